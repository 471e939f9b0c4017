"""``rid-desktop protect`` with each fast engine on a real photo of an odd size: same size, budget kept."""

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from rid_desktop import cli
from rid_desktop.engines import create_engine
from rid_desktop.engines.wavelets import rgb_to_ycbcr

EPS_255 = 6


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def odd_photo(eval_images):
    """The smallest real photo whose sides are not multiples of 2, 8 or 16 (e.g. 248 x 189)."""
    sized = []
    for path in eval_images:
        with Image.open(path) as im:
            sized.append((im.size[0] * im.size[1], path, im.size))
    odd = [item for item in sorted(sized, key=lambda item: item[0]) if item[2][0] % 2 or item[2][1] % 2]
    if not odd:
        pytest.fail("no real photo with an odd side in ../shared/data/eval")
    return odd[0][1]


def _rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.int16)


@pytest.mark.parametrize("engine", ["rid", "dwt-chroma", "both"])
def test_protect_command_on_a_real_photo(engine, odd_photo, tmp_path, shared_models):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(odd_photo, folder / odd_photo.name)
    code = cli.main(["protect", str(folder), "--engine", engine, "--strength", str(EPS_255), "--format", "png",
                     "--device", "cpu"])
    assert code == 0
    (out,) = (tmp_path / "in-protected").glob("*.png")
    before, after = _rgb(odd_photo), _rgb(out)
    assert after.shape == before.shape
    change = np.abs(after - before)
    assert change.max() <= EPS_255 + 1  # the budget, plus 8-bit rounding
    assert change.mean() > 0.5  # it did protect
    if engine == "dwt-chroma":
        to_t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255  # noqa: E731
        luma = (rgb_to_ycbcr(to_t(after))[:, 0] - rgb_to_ycbcr(to_t(before))[:, 0]).abs().max()
        assert luma <= 1 / 255 + 1e-6


@pytest.mark.parametrize("engine", ["iterative", "iterative-chroma"])
def test_iterative_engines_on_a_real_photo_crop(engine, odd_photo, shared_models):
    x = torch.from_numpy(_rgb(odd_photo)[:45, :67].astype(np.float32) / 255).permute(2, 0, 1)[None]
    eps = EPS_255 / 255
    y = create_engine(engine, steps=2).protect(x, eps, seed=0)
    assert y.shape == x.shape
    assert (y - x).abs().max() <= eps + 1e-6 and (y - x).abs().max() > 0.5 * eps
