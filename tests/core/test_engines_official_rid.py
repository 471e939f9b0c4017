"""The ``rid`` engine runs a user-supplied official RID checkpoint on photos of any size, tiled at 512.

The checkpoint is a real ``torch.save`` file read through the app's loader with strict key matching;
only the network's width/depth are reduced (the loader is told so) to keep CPU time low — input size
(512) and patch size (16) are the official ones, so the tiling path is the real one.
"""

from functools import partial

import pytest
import torch

from rid_desktop.engines import create_engine, rid_dit
from rid_desktop.engines.rid_dit import OFFICIAL_INPUT_SIZE, OfficialRIDGenerator

SMALL_512 = dict(hidden_size=32, depth=1, num_heads=2, num_classes=10)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def official_engine(tmp_path, monkeypatch):
    """``create_engine("rid", model_path=...)`` on an official-layout checkpoint; yields (engine, tile shapes)."""
    torch.manual_seed(0)
    net = OfficialRIDGenerator(**SMALL_512)
    with torch.no_grad():
        net.final_layer.linear.weight.mul_(100.0)  # saturate tanh so the eps bound is reached
    path = tmp_path / "noise_model_modules.pth"
    torch.save({"module." + k: v for k, v in net.state_dict().items()}, path)  # DataParallel-style keys
    monkeypatch.setattr(rid_dit, "load_official_rid", partial(rid_dit.load_official_rid, **SMALL_512))
    engine = create_engine("rid", model_path=str(path))
    assert isinstance(engine.net, OfficialRIDGenerator)
    seen = []
    handle = engine.net.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape)))
    yield engine, seen
    handle.remove()


def test_official_checkpoint_runs_at_any_size_in_512_tiles(official_engine):
    engine, seen = official_engine
    assert engine.official and engine.tile == OFFICIAL_INPUT_SIZE
    eps = 8 / 255
    for shape in [(300, 700), (37, 41)]:
        seen.clear()
        x = torch.rand(1, 3, *shape, generator=torch.Generator().manual_seed(1))
        y = engine.protect(x, eps, seed=0)
        assert y.shape == x.shape
        assert (y - x).abs().max() <= eps + 1e-6
        assert (y - x).abs().max() > 0.9 * eps
        assert seen and all(s[-2:] == (512, 512) for s in seen)  # every call is a full 512 x 512 tile
    assert sum(s[0] for s in seen) == 1  # a small photo is one padded tile
    x = torch.rand(1, 3, 300, 700, generator=torch.Generator().manual_seed(2))
    assert torch.equal(engine.protect(x, eps, seed=3), engine.protect(x, eps, seed=3))


def test_one_512_tile_is_exactly_the_network_output_in_pixel_units(official_engine):
    """No tiling, padding or unit change sneaks in: protect(x) = clip(x + tanh(net(2x - 1)) * eps)."""
    engine, _ = official_engine
    eps = 6 / 255  # the paper's --eps 12 in [-1, 1] units
    x = torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = (x + engine.net.forward_official(x * 2 - 1, rid_dit.pixel_eps_to_official_scale(eps)) / 2)
    assert torch.allclose(engine.protect(x, eps), expected.clamp(0, 1), atol=1e-6)
