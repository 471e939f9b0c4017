"""Draw the app icon (a shield over a photo) with Pillow: ``python resources/make_icon.py``.

Drawn at 1024 px with 4x supersampling and saved as resources/icon.png (1024 px, used by Qt, which
scales it per screen DPI) plus icon-256.png for packaging tools that want a small file.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
SIZE = 1024
SS = 2  # supersampling factor


def _shield(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], fill, outline=None, width=0) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    points = [(x0, y0 + 0.12 * h), (cx, y0), (x1, y0 + 0.12 * h), (x1, y0 + 0.48 * h)]
    # lower half: a smooth point, approximated with a quadratic curve on each side
    steps = 40
    right = [(x1 + (cx - x1) * t * t, y0 + 0.48 * h + (y1 - y0 - 0.48 * h) * (2 * t - t * t)) for t in [i / steps for i in range(1, steps + 1)]]
    left = [(x0 + (cx - x0) * t * t, y0 + 0.48 * h + (y1 - y0 - 0.48 * h) * (2 * t - t * t)) for t in [i / steps for i in range(steps, 0, -1)]]
    points += right + left + [(x0, y0 + 0.48 * h)]
    draw.polygon(points, fill=fill, outline=outline, width=width)


def draw_icon(size: int = SIZE) -> Image.Image:
    s = size * SS
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    # photo card with a soft shadow
    card = (0.08 * s, 0.16 * s, 0.80 * s, 0.76 * s)
    shadow = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    ImageDraw.Draw(shadow).rounded_rectangle([c + 0.015 * s for c in card], radius=0.06 * s, fill=(0, 0, 0, 90))
    img = Image.alpha_composite(img, shadow.filter(ImageFilter.GaussianBlur(0.02 * s)))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle(card, radius=0.06 * s, fill=(250, 250, 252, 255))
    inner = (card[0] + 0.04 * s, card[1] + 0.04 * s, card[2] - 0.04 * s, card[3] - 0.04 * s)
    # sky gradient
    sky = Image.new("RGBA", (int(inner[2] - inner[0]), int(inner[3] - inner[1])))
    sd = ImageDraw.Draw(sky)
    for y in range(sky.height):
        t = y / max(sky.height - 1, 1)
        sd.line([(0, y), (sky.width, y)], fill=(int(90 + 80 * t), int(160 + 60 * t), int(235 - 10 * t), 255))
    # mountains and sun
    w, h = sky.size
    sd.ellipse((0.62 * w, 0.14 * h, 0.82 * w, 0.14 * h + 0.2 * w), fill=(255, 214, 90, 255))
    sd.polygon([(0, h), (0.32 * w, 0.42 * h), (0.58 * w, h)], fill=(64, 140, 96, 255))
    sd.polygon([(0.3 * w, h), (0.62 * w, 0.52 * h), (w, h)], fill=(40, 110, 80, 255))
    mask = Image.new("L", sky.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, w - 1, h - 1), radius=0.03 * s, fill=255)
    img.paste(sky, (int(inner[0]), int(inner[1])), mask)
    d = ImageDraw.Draw(img)
    # shield overlapping the lower-right corner
    shield_box = (0.50 * s, 0.40 * s, 0.94 * s, 0.94 * s)
    _shield(d, shield_box, fill=(255, 255, 255, 255))
    pad = 0.025 * s
    inner_shield = (shield_box[0] + pad, shield_box[1] + pad, shield_box[2] - pad, shield_box[3] - pad)
    _shield(d, inner_shield, fill=(46, 110, 220, 255))
    # check mark
    cx, cy = (inner_shield[0] + inner_shield[2]) / 2, (inner_shield[1] + inner_shield[3]) / 2
    u = (inner_shield[2] - inner_shield[0]) / 10
    d.line([(cx - 2.6 * u, cy), (cx - 0.6 * u, cy + 2.0 * u), (cx + 2.8 * u, cy - 2.2 * u)],
           fill=(255, 255, 255, 255), width=int(0.9 * u), joint="curve")
    return img.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    icon = draw_icon()
    icon.save(HERE / "icon.png", optimize=True)
    icon.resize((256, 256), Image.Resampling.LANCZOS).save(HERE / "icon-256.png", optimize=True)
    print(f"wrote {HERE / 'icon.png'} and icon-256.png")


if __name__ == "__main__":
    main()
