"""Tiles cover the image, blend without seams and keep the budget."""

import torch

from rid_desktop.engines.tiling import tile_starts, tiled_delta


def test_tile_starts_cover_every_pixel_with_overlap():
    for length in [100, 512, 513, 1000, 4001]:
        starts = tile_starts(length, 256, 32, align=2)
        assert starts[0] == 0 and starts[-1] + 256 >= length
        for a, b in zip(starts, starts[1:]):
            assert b - a <= 256 - 32


def test_blending_reproduces_a_global_function():
    """A per-pixel function tiled must equal the function applied at once: no seams."""
    x = torch.rand(1, 3, 300, 700)
    delta = tiled_delta(lambda t: 0.5 * t.sin(), x, tile=128, overlap=32, batch=3)
    assert torch.allclose(delta, 0.5 * x.sin(), atol=1e-5)


def test_blend_of_disagreeing_tiles_is_smooth_and_bounded():
    """Tiles returning different constants: the result stays within their range and changes gradually."""
    counter = {"n": 0}

    def alternating(t):
        counter["n"] += 1
        return torch.full_like(t, 1.0 if counter["n"] % 2 else -1.0)

    x = torch.rand(1, 3, 64, 400)
    d = tiled_delta(alternating, x, tile=128, overlap=48, batch=1)
    assert d.abs().max() <= 1 + 1e-6
    steps = (d[0, 0, 0, 1:] - d[0, 0, 0, :-1]).abs()
    assert steps.max() < 0.2  # a hard seam would jump by 2


def test_fixed_size_models_get_padded_input():
    seen = []

    def fixed(t):
        seen.append(tuple(t.shape[-2:]))
        return t * 0
    tiled_delta(fixed, torch.rand(1, 3, 100, 900), tile=512, overlap=64, fixed_size=True)
    assert set(seen) == {(512, 512)}


def test_tiles_are_batched_and_progress_counts_tiles():
    calls, progress = [], []

    def record(t):
        calls.append(t.shape[0])
        return t * 0

    tiled_delta(record, torch.rand(1, 3, 200, 300), tile=96, overlap=16, batch=4,
                progress=lambda d, t: progress.append((d, t)))
    n_tiles = len(tile_starts(200, 96, 16, 2)) * len(tile_starts(300, 96, 16, 2))
    assert sum(calls) == n_tiles and n_tiles > 4
    assert all(c == 4 for c in calls[:-1]) and 1 <= calls[-1] <= 4  # batches of 4, the last may be short
    assert progress[-1] == (n_tiles, n_tiles) and len(progress) == len(calls)


def test_blend_is_a_convex_combination_so_the_budget_holds():
    """Random tile perturbations within +-eps blend into a perturbation within +-eps."""
    g = torch.Generator().manual_seed(0)
    eps = 8 / 255
    d = tiled_delta(lambda t: (torch.rand(t.shape, generator=g) * 2 - 1) * eps, torch.rand(1, 3, 150, 170),
                    tile=64, overlap=24, batch=2)
    assert d.abs().max() <= eps + 1e-7
