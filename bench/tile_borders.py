"""Does tiling weaken protection along tile borders? Figures for docs/tiling.md and the tiling tests.

Around every border between tiles (a band of ``2 * BAND`` px centred on the place where two tiles
meet) it compares the tiled run with an untiled one: the mean |change| and the protection ratio
(TAEF2 latent distortion of the band crop / that of same-budget random-sign noise). Our compact
generators run untiled on the whole photo; the official RID network only takes 512 x 512, so its
"untiled" reference for a band is one 512 px tile centred on that border (the band is then deep inside
a single tile, as far from any tile edge as it can be).

``python -m bench.tile_borders [PHOTO]`` prints the table in docs/tiling.md (official RID: an
official-layout network with random weights, as in the tests).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch

from rid_desktop.engines.objectives import latent_distortion
from rid_desktop.engines.tiling import stitch_cuts, tile_starts

BAND = 32


@dataclass(frozen=True)
class Band:
    """Rows and columns of one border band; ``axis`` 1: a vertical border (columns cut), 0: horizontal."""

    rows: slice
    cols: slice
    axis: int
    cut: int


def borders(length: int, tile: int, overlap: int, align: int, fixed_size: bool) -> list[int]:
    """Where neighbouring tiles meet along one axis, as the tiler lays them out."""
    size = min(tile, length)
    starts = tile_starts(length, size, overlap, align, flush_end=fixed_size)
    ends = [min(s + size, length) for s in starts]
    return [keep[0] for keep in stitch_cuts(starts, ends, length, align)[1:]]


def border_bands(height: int, width: int, tile: int, overlap: int, align: int, fixed_size: bool) -> list[Band]:
    bands = [Band(slice(0, height), slice(c - BAND, c + BAND), 1, c)
             for c in borders(width, tile, overlap, align, fixed_size)]
    bands += [Band(slice(r - BAND, r + BAND), slice(0, width), 0, r)
              for r in borders(height, tile, overlap, align, fixed_size)]
    return bands


def single_tile_reference(engine, image: torch.Tensor, eps: float, bands: list[Band], tile: int) -> torch.Tensor:
    """Protected image whose band pixels come from one ``tile`` px tile centred on their border.

    For a fixed-size network (official RID); needs the image's other side to fit in one tile.
    """
    out = image.clone()
    h, w = image.shape[-2:]
    for band in bands:
        if band.axis == 1:
            if h > tile:
                raise ValueError("single-tile reference: the image is taller than one tile")
            x0 = min(max(0, band.cut - tile // 2), w - tile)
            window = engine.protect(image[..., :, x0 : x0 + tile], eps, seed=0)
            out[..., band.rows, band.cols] = window[..., :, band.cols.start - x0 : band.cols.stop - x0]
        else:
            if w > tile:
                raise ValueError("single-tile reference: the image is wider than one tile")
            y0 = min(max(0, band.cut - tile // 2), h - tile)
            window = engine.protect(image[..., y0 : y0 + tile, :], eps, seed=0)
            out[..., band.rows, band.cols] = window[..., band.rows.start - y0 : band.rows.stop - y0, :]
    return out


@torch.no_grad()
def band_figures(image: torch.Tensor, tiled: torch.Tensor, reference: torch.Tensor, bands: list[Band],
                 eps: float, encoder) -> dict[str, float]:
    """Mean |change| (in /255) and protection ratio (x noise) in the bands, tiled vs reference."""
    if not bands:
        raise ValueError("the image has no tile borders at this tile size")
    mask = torch.zeros(image.shape[-2:], dtype=torch.bool)
    for band in bands:
        mask[band.rows, band.cols] = True
    abs_tiled = (tiled - image).abs().mean(1)[0][mask].mean().item() * 255
    abs_ref = (reference - image).abs().mean(1)[0][mask].mean().item() * 255
    noise = (image + eps * (torch.randint(0, 2, image.shape, generator=torch.Generator().manual_seed(0))
                            .to(image) * 2 - 1)).clamp(0, 1)
    dist = {"tiled": 0.0, "reference": 0.0, "noise": 0.0}
    for band in bands:
        crop = (..., band.rows, band.cols)
        clean = encoder(image[crop])
        for key, protected in (("tiled", tiled), ("reference", reference), ("noise", noise)):
            dist[key] += latent_distortion(encoder, _quantize(protected[crop]), clean).sum().item()
    return {
        "mean_abs_tiled": abs_tiled,
        "mean_abs_reference": abs_ref,
        "mean_abs_ratio": abs_tiled / abs_ref,
        "protection_tiled": dist["tiled"] / dist["noise"],
        "protection_reference": dist["reference"] / dist["noise"],
        "protection_ratio": dist["tiled"] / dist["reference"],
    }


def _quantize(x: torch.Tensor) -> torch.Tensor:
    """8-bit rounding, as the saved file has it."""
    return (x * 255).round() / 255


def measure(engine_name: str, image: torch.Tensor, eps: float, encoder, *, tile: int, **options) -> dict[str, float]:
    """Figures for one engine: tiled at ``tile`` vs untiled (or single-tile for fixed-size networks)."""
    from rid_desktop.engines import create_engine

    tiled_engine = create_engine(engine_name, tile=tile, **options)
    fixed = bool(getattr(tiled_engine, "official", False))
    if fixed:
        tile = tiled_engine.tile
    h, w = image.shape[-2:]
    bands = border_bands(h, w, tile, tiled_engine.overlap, getattr(tiled_engine, "align", 2), fixed)
    tiled = tiled_engine.protect(image, eps, seed=0)  # one key for both runs: only the tiling differs
    if fixed:
        reference = single_tile_reference(tiled_engine, image, eps, bands, tile)
    else:
        reference = create_engine(engine_name, tile=max(h, w), **options).protect(image, eps, seed=0)
    return band_figures(image, tiled, reference, bands, eps, encoder) | {"bands": len(bands), "tile": tile}


def main(argv: list[str]) -> int:  # pragma: no cover - prints the figures for docs/tiling.md
    import tempfile
    from functools import partial
    from pathlib import Path

    from rid_desktop.engines import rid_dit
    from rid_desktop.io import load_image, to_tensor
    from rid_desktop.models.surrogates import load_encoder

    photo = Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / "shared/data/eval/codeformer_whole_06.jpg"
    image = to_tensor(load_image(photo))
    encoder = load_encoder()
    eps = 8 / 255
    print(f"photo {photo.name} {tuple(image.shape[-2:])}, eps 8/255, bands +-{BAND} px, 512 px tiles")
    print("| engine | image | mean abs change tiled / untiled (/255) | ratio | protection tiled / untiled (x noise) | ratio |")
    print("|---|---|---|---|---|---|")

    def row(label: str, crop: torch.Tensor, **options) -> None:
        f = measure(options.pop("engine", "rid"), crop, eps, encoder, tile=512, **options)
        print(f"| {label} | {crop.shape[-2]}x{crop.shape[-1]} | {f['mean_abs_tiled']:.2f} / {f['mean_abs_reference']:.2f} "
              f"| {f['mean_abs_ratio']:.3f} | {f['protection_tiled']:.3f} / {f['protection_reference']:.3f} "
              f"| {f['protection_ratio']:.3f} |")

    row("rid (default)", image)
    row("dwt-chroma", image, engine="dwt-chroma")
    arch = dict(hidden_size=32, depth=1, num_heads=2, num_classes=10)
    torch.manual_seed(0)
    net = rid_dit.OfficialRIDGenerator(**arch)
    with torch.no_grad():
        net.final_layer.linear.weight.mul_(100.0)  # near-saturated tanh, as in the tests
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "official.pt"
        torch.save(net.state_dict(), path)
        rid_dit.load_official_rid = partial(rid_dit.load_official_rid, **arch)
        for crop in (image[..., :512, :], image[..., :, :512]):
            row("rid --model official layout (random weights)", crop, model_path=str(path))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
