"""Tiles cover the image, are stitched with a halo (no averaging), stay aligned and keep the budget."""

import torch

from rid_desktop.engines.tiling import tile_starts, tiled_delta


def test_tile_starts_cover_every_pixel_with_overlap():
    for length in [100, 512, 513, 1000, 4001]:
        starts = tile_starts(length, 256, 32, align=2)
        assert starts[0] == 0 and starts[-1] + 256 >= length
        for a, b in zip(starts, starts[1:]):
            assert b - a <= 256 - 32


def test_stitching_reproduces_a_global_function():
    """A per-pixel function tiled must equal the function applied at once: no seams."""
    x = torch.rand(1, 3, 300, 700)
    delta = tiled_delta(lambda t: 0.5 * t.sin(), x, tile=128, overlap=32, batch=3)
    assert torch.allclose(delta, 0.5 * x.sin(), atol=1e-5)


def test_disagreeing_tiles_meet_mid_overlap_at_full_strength():
    """Tiles returning different constants: no averaged band — every pixel has one tile's full value."""
    counter = {"n": 0}

    def alternating(t):
        counter["n"] += 1
        return torch.full_like(t, 1.0 if counter["n"] % 2 else -1.0)

    x = torch.rand(1, 3, 64, 400)
    d = tiled_delta(alternating, x, tile=128, overlap=48, batch=1, align=2)
    assert set(d.unique().tolist()) == {-1.0, 1.0}
    starts = tile_starts(400, 128, 48, align=2, flush_end=False)
    flips = (d[0, 0, 0, 1:] != d[0, 0, 0, :-1]).nonzero().flatten() + 1
    middles = [(b + a + 128) // 2 // 2 * 2 for a, b in zip(starts, starts[1:])]  # middle of each overlap
    assert flips.tolist() == middles


def test_stitching_keeps_a_halo_so_a_convolution_is_reproduced_exactly():
    """A local operator (7x7 box filter, zero-padded at tile edges) tiled with a halo wider than its
    reach equals the operator on the whole image: tile edges never reach the output."""
    def box(t):
        return torch.nn.functional.avg_pool2d(t, 7, stride=1, padding=3, count_include_pad=True)

    x = torch.rand(1, 3, 300, 700)
    assert torch.allclose(tiled_delta(box, x, tile=128, overlap=16, batch=3), box(x), atol=1e-6)


def test_aligned_tiles_see_the_untiled_grid():
    """A network with a period (pixel-unshuffle, a universal pattern repeating from its input's corner)
    tiled at offsets that are multiples of that period gives the untiled result, last tile included."""
    period = 32
    pattern = torch.rand(1, 3, period, period, generator=torch.Generator().manual_seed(0))

    def with_pattern(t):
        h, w = t.shape[-2:]
        return pattern.repeat(t.shape[0], 1, h // period + 1, w // period + 1)[..., :h, :w]

    x = torch.rand(1, 3, 333, 517)
    assert torch.equal(tiled_delta(with_pattern, x, tile=128, overlap=64, align=period), with_pattern(x))


def test_aligned_starts_keep_the_count_and_cover_the_image():
    for length in [129, 500, 1000, 4001]:
        flush = tile_starts(length, 128, 64, align=32)
        aligned = tile_starts(length, 128, 64, align=32, flush_end=False)
        assert len(aligned) == len(flush)
        assert all(s % 32 == 0 for s in aligned) and aligned[-1] + 128 >= length
        assert length - aligned[-1] > 64  # the short last tile still holds its share of the overlap


def test_fixed_size_models_get_padded_input():
    seen = []

    def fixed(t):
        seen.append(tuple(t.shape[-2:]))
        return t * 0
    tiled_delta(fixed, torch.rand(1, 3, 100, 900), tile=512, overlap=64, fixed_size=True)
    assert set(seen) == {(512, 512)}


def test_tiles_are_batched_by_size_and_progress_counts_tiles():
    calls, progress = [], []

    def record(t):
        calls.append(tuple(t.shape))
        return t * 0

    tiled_delta(record, torch.rand(1, 3, 200, 300), tile=96, overlap=16, batch=4,
                progress=lambda d, t: progress.append((d, t)))
    n_tiles = len(tile_starts(200, 96, 16, 2)) * len(tile_starts(300, 96, 16, 2))
    assert sum(c[0] for c in calls) == n_tiles and n_tiles > 4
    assert all(1 <= c[0] <= 4 for c in calls) and calls[0][0] == 4  # batches of up to 4 same-size tiles
    assert len(calls) < n_tiles  # batched at all
    assert progress[-1] == (n_tiles, n_tiles) and len(progress) == len(calls)


def test_stitched_perturbation_keeps_the_budget():
    """Random tile perturbations within +-eps stitch into a perturbation within +-eps."""
    g = torch.Generator().manual_seed(0)
    eps = 8 / 255
    d = tiled_delta(lambda t: (torch.rand(t.shape, generator=g) * 2 - 1) * eps, torch.rand(1, 3, 150, 170),
                    tile=64, overlap=24, batch=2)
    assert d.abs().max() <= eps + 1e-7
