"""Each purifier does what its name claims, and specs parse into them (or fail with one line)."""

import io

import numpy as np
import pytest
import torch
from kornia.color import rgb_to_ycbcr
from PIL import Image

from rid_desktop.checks.diffpure import DIFFPURE_MODEL_ENV, NOT_CONFIGURED
from rid_desktop.checks.purifiers import (
    PurifierUnavailable,
    gaussian_blur,
    grayscale,
    jpeg_round_trip,
    list_purifiers,
    parse_purifier,
    parse_purifiers,
    resize_round_trip,
)
from rid_desktop.errors import UserError


def _photo(height=64, width=80, seed=0, noise=0.04):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    base = torch.stack([0.3 + 0.5 * xx, 0.7 - 0.4 * yy, 0.5 + 0.3 * torch.sin(6 * xx)])[None]
    return (base + noise * torch.randn(1, 3, height, width, generator=g)).clamp(0, 1)


def _high_frequency_energy(image):
    centre = image[..., 1:-1, 1:-1]
    neighbours = image[..., :-2, 1:-1] + image[..., 2:, 1:-1] + image[..., 1:-1, :-2] + image[..., 1:-1, 2:]
    laplacian = 4 * centre - neighbours
    return float(laplacian.pow(2).mean())


def test_jpeg_output_decodes_to_the_same_shape_and_differs_more_at_low_quality():
    x = _photo(noise=0.01)
    low, high = jpeg_round_trip(x, 10), jpeg_round_trip(x, 95)
    assert low.shape == x.shape and low.dtype == x.dtype
    assert 0 <= low.min() and low.max() <= 1
    err_low, err_high = (low - x).abs().mean(), (high - x).abs().mean()
    assert err_low > 2 * err_high
    assert err_high > 0  # even q95 is lossy (and 8-bit)


def test_jpeg_subsamples_chroma_420_like_social_networks():
    # A colour checkerboard at pixel scale survives 4:4:4 at q100 but not 4:2:0.
    x = torch.zeros(1, 3, 32, 32)
    x[:, 0, ::2, ::2] = x[:, 0, 1::2, 1::2] = 1.0
    x[:, 2] = 1 - x[:, 0]
    x[:, 1] = 0.5
    ours = jpeg_round_trip(x, 100)
    pixels = (x[0].permute(1, 2, 0) * 255).round().byte().numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=100, subsampling=0)
    decoded = np.array(Image.open(buffer).convert("RGB"))
    full_chroma = torch.from_numpy(decoded).permute(2, 0, 1)[None].float() / 255
    chroma_error = lambda y: float((rgb_to_ycbcr(y)[:, 1:] - rgb_to_ycbcr(x)[:, 1:]).abs().mean())  # noqa: E731
    assert chroma_error(ours) > 5 * chroma_error(full_chroma)


def test_resize_changes_the_image_and_restores_its_size():
    x = _photo(61, 83)
    y = resize_round_trip(x, 0.5)
    assert y.shape == x.shape
    assert (y - x).abs().mean() > 0.005
    assert _high_frequency_energy(y) < 0.5 * _high_frequency_energy(x)


def test_blur_lowers_high_frequencies_more_with_larger_sigma():
    x = _photo()
    mild, strong = gaussian_blur(x, 0.8), gaussian_blur(x, 2.0)
    assert mild.shape == x.shape
    assert _high_frequency_energy(strong) < _high_frequency_energy(mild) < 0.5 * _high_frequency_energy(x)
    # low frequencies (the mean colour) are kept
    assert torch.allclose(strong.mean((2, 3)), x.mean((2, 3)), atol=0.01)


def test_grayscale_zeroes_chroma_and_keeps_luma():
    x = _photo()
    y = grayscale(x)
    ycc_in, ycc_out = rgb_to_ycbcr(x), rgb_to_ycbcr(y)
    assert torch.allclose(ycc_out[:, 1:], torch.full_like(ycc_out[:, 1:], 0.5), atol=1e-5)
    assert torch.allclose(ycc_out[:, 0], ycc_in[:, 0], atol=1e-5)
    assert (ycc_in[:, 1:] - 0.5).abs().mean() > 0.02  # the input really had colour


def test_specs_parse_normalise_and_run():
    purifiers = parse_purifiers(" JPEG:80, resize:0.75 ,blur:1.5,grayscale,iwmf,iwmf:0.2")
    assert [p.spec for p in purifiers] == ["jpeg:80", "resize:0.75", "blur:1.5", "grayscale", "iwmf:0.4", "iwmf:0.2"]
    x = _photo(32, 40)
    for purifier in purifiers:
        assert purifier.unavailable is None
        y = purifier(x, seed=1)
        assert y.shape == x.shape
        assert not torch.equal(y, x), purifier.spec
    names = {kind.name for kind in list_purifiers()}
    assert {"jpeg", "resize", "blur", "grayscale", "iwmf", "diffpure", "iwmf-diff"} <= names


@pytest.mark.parametrize(
    "spec", ["sharpen", "jpeg:abc", "jpeg:0", "jpeg:75.5", "resize:2", "blur:-1", "grayscale:3", "iwmf:0"]
)
def test_bad_specs_fail_with_one_line_user_errors(spec):
    with pytest.raises(UserError) as info:
        parse_purifier(spec)
    assert "\n" not in str(info.value) and spec.split(":")[0] in str(info.value).lower()


def test_empty_purifier_list_is_a_user_error():
    with pytest.raises(UserError):
        parse_purifiers(" , ")


def test_diffusion_purifiers_say_model_not_configured_without_a_model(monkeypatch):
    monkeypatch.delenv(DIFFPURE_MODEL_ENV, raising=False)
    for spec in ("diffpure", "diffpure:0.2", "iwmf-diff"):
        purifier = parse_purifier(spec)
        assert purifier.unavailable == NOT_CONFIGURED
        with pytest.raises(PurifierUnavailable, match=NOT_CONFIGURED):
            purifier(_photo(16, 16))


def test_a_wrong_diffpure_folder_is_reported_when_parsing(monkeypatch, tmp_path):
    monkeypatch.setenv(DIFFPURE_MODEL_ENV, str(tmp_path / "missing"))
    with pytest.raises(UserError, match="not found"):
        parse_purifier("diffpure")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a diffusers model folder"):
        parse_purifier("iwmf-diff", diffpure_model=tmp_path / "empty")
