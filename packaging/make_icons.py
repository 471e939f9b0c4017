"""Make the Windows ``.ico`` and macOS ``.icns`` app icons from ONE source image.

Why one source: the icon in the installer, the Dock, the taskbar and the window title must match,
and regenerating both from ``resources/icon.png`` (square, ideally 1024x1024 RGBA) keeps them so.
Pillow writes both formats on every OS, so CI runners need no extra tools (no iconutil/ImageMagick).

Usage:
    python packaging/make_icons.py [--source resources/icon.png] [--out build/icons]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO / "resources" / "icon.png"
DEFAULT_OUT = REPO / "build" / "icons"
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]
ICNS_SIZE = 1024  # Pillow derives the 16..512 @1x/@2x members from the largest image


def load_square_rgba(source: Path) -> Image.Image:
    """The source as RGBA, padded to a centred square (transparent margins) and sized to 1024x1024."""
    if not source.is_file():
        raise SystemExit(f"icon source not found: {source} (create resources/icon.png first)")
    with Image.open(source) as img:
        img = img.convert("RGBA")
    side = max(img.size)
    if img.width != img.height:
        square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        square.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
        img = square
    if side != ICNS_SIZE:
        img = img.resize((ICNS_SIZE, ICNS_SIZE), Image.Resampling.LANCZOS)
    return img


def make_icons(source: Path = DEFAULT_SOURCE, out_dir: Path = DEFAULT_OUT) -> dict[str, Path]:
    """Write ``rid-desktop.ico`` and ``rid-desktop.icns`` into ``out_dir``; returns {"ico": path, "icns": path}."""
    img = load_square_rgba(Path(source))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ico, icns = out_dir / "rid-desktop.ico", out_dir / "rid-desktop.icns"
    img.save(ico, format="ICO", sizes=ICO_SIZES)
    img.save(icns, format="ICNS")
    return {"ico": ico, "icns": icns}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    for kind, path in make_icons(args.source, args.out).items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
