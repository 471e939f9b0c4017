"""The official RID DiT: exact checkpoint layout, strict loading, output bound and the [-1, 1] eps convention."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from rid_desktop.engines import rid_dit
from rid_desktop.engines.rid_dit import OfficialRIDGenerator, load_official_rid, looks_like_official_rid
from rid_desktop.errors import ModelError

# Same code path as the real network, small enough for CPU tests: 64 px input -> 4x4 tokens.
SMALL = dict(input_size=64, patch_size=16, hidden_size=48, depth=2, num_heads=4)


def small_net(seed: int = 0) -> OfficialRIDGenerator:
    torch.manual_seed(seed)
    return OfficialRIDGenerator(**SMALL).eval()


def image01(size: int, batch: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_full_size_key_names_and_shapes_match_the_official_checkpoint_layout():
    with torch.device("meta"):  # 343 M parameters: shapes only, no memory
        state = OfficialRIDGenerator().state_dict()
    expected = {
        "x_embedder.proj.weight": (1152, 3, 16, 16),
        "x_embedder.proj.bias": (1152,),
        "pos_embed": (1, 1024, 1152),
        "t_embedder.mlp.0.weight": (1152, 256),
        "t_embedder.mlp.2.weight": (1152, 1152),
        "y_embedder.embedding_table.weight": (1001, 1152),
        "blocks.0.attn.qkv.weight": (3456, 1152),
        "blocks.0.attn.qkv.bias": (3456,),
        "blocks.0.attn.proj.weight": (1152, 1152),
        "blocks.0.mlp.fc1.weight": (4608, 1152),
        "blocks.0.mlp.fc2.weight": (1152, 4608),
        "blocks.13.adaLN_modulation.1.weight": (6912, 1152),
        "blocks.13.adaLN_modulation.1.bias": (6912,),
        "final_layer.linear.weight": (768, 1152),
        "final_layer.linear.bias": (768,),
        "final_layer.adaLN_modulation.1.weight": (2304, 1152),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert "blocks.14.attn.qkv.weight" not in state  # depth 14
    assert not any(".norm" in k for k in state)  # LayerNorms without affine parameters, as in DiT
    # 12 top-level tensors + 10 per block.
    assert len(state) == 12 + 14 * 10
    assert looks_like_official_rid(state)


def test_pos_embed_is_the_fixed_2d_sincos_table():
    def reference(dim: int, grid: int) -> np.ndarray:  # MAE/DiT recipe, written independently in numpy
        def axis(d, pos):
            omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
            out = np.outer(pos.reshape(-1), omega)
            return np.concatenate([np.sin(out), np.cos(out)], axis=1)

        xs, ys = np.meshgrid(np.arange(grid, dtype=np.float32), np.arange(grid, dtype=np.float32))
        return np.concatenate([axis(dim // 2, xs), axis(dim // 2, ys)], axis=1)

    net = small_net()
    assert not net.pos_embed.requires_grad and "pos_embed" in net.state_dict()
    np.testing.assert_allclose(net.pos_embed[0].numpy(), reference(48, 4), atol=1e-6)


def test_unpatchify_inverts_row_major_patchify():
    net = small_net()
    x = torch.randn(2, 3, 64, 64)
    p, g = 16, 4
    tokens = x.reshape(2, 3, g, p, g, p).permute(0, 2, 4, 3, 5, 1).reshape(2, g * g, p * p * 3)
    assert torch.equal(net.unpatchify(tokens), x)


@pytest.mark.parametrize("wrap", ["plain", "model", "state_dict", "module-prefix", "fp16"])
def test_torch_save_round_trip_with_strict_loading(tmp_path, wrap):
    net = small_net(seed=1)
    state = net.state_dict()
    saved = {
        "plain": state,
        "model": {"model": state},
        "state_dict": {"state_dict": state},
        "module-prefix": {f"module.{k}": v for k, v in state.items()},
        "fp16": {k: v.half() for k, v in state.items()},
    }[wrap]
    path = tmp_path / "noise_model_modules.bin"
    torch.save(saved, path)

    loaded = load_official_rid(path, **SMALL)

    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    tol = 1e-2 if wrap == "fp16" else 0.0
    for key, value in state.items():
        assert loaded.state_dict()[key].dtype == torch.float32
        # (torch.testing.assert_close would import torch.distributed: seconds of test time)
        assert torch.allclose(loaded.state_dict()[key], value, atol=tol, rtol=tol), key
    if wrap != "fp16":
        x = image01(64)
        assert torch.equal(loaded(x, 8 / 255), net(x, 8 / 255))


def test_safetensors_round_trip_with_strict_loading(tmp_path):
    net = small_net(seed=2)
    path = tmp_path / "rid.safetensors"
    save_file(net.state_dict(), str(path))
    loaded = load_official_rid(path, **SMALL)
    x = image01(64)
    assert torch.equal(loaded(x, 4 / 255), net(x, 4 / 255))


def test_an_already_read_state_dict_can_be_loaded_without_reading_the_file_again():
    net = small_net(seed=6)
    state = {f"module.{k}": v.clone() for k, v in net.state_dict().items()}
    loaded = load_official_rid({"model": state}, **SMALL)
    x = image01(64)
    assert torch.equal(loaded(x, 8 / 255), net(x, 8 / 255))
    with pytest.raises(ModelError, match="my.pth is not an official RID checkpoint"):
        load_official_rid({"weight": torch.zeros(1)}, name="my.pth")


def test_wrong_shaped_checkpoint_gives_a_clear_model_error(tmp_path):
    path = tmp_path / "small.pth"
    torch.save(small_net().state_dict(), path)  # right names, wrong sizes for the official network
    with pytest.raises(ModelError, match="does not fit the official RID network: .*wrong shape: .*expected") as err:
        load_official_rid(path)
    assert "\n" not in str(err.value)


def test_missing_and_unexpected_keys_are_named(tmp_path):
    state = small_net().state_dict()
    state = {k: v for k, v in state.items() if not k.startswith("blocks.1.")}
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(ModelError, match=r"missing: blocks\.1\..*unexpected: extra\.weight"):
        load_official_rid(path, **SMALL)


def test_a_different_network_is_not_taken_for_official_rid(tmp_path):
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 3, 3)).state_dict()
    assert not looks_like_official_rid(other)
    assert not looks_like_official_rid("not a dict")
    path = tmp_path / "other.pth"
    torch.save(other, path)
    with pytest.raises(ModelError, match="not an official RID checkpoint"):
        load_official_rid(path)


def test_looks_like_official_rid_accepts_wrapped_and_prefixed_state():
    state = small_net().state_dict()
    assert looks_like_official_rid(state)
    assert looks_like_official_rid({f"module.{k}": v for k, v in state.items()})
    assert looks_like_official_rid({"model": state})


def test_perturbation_is_bounded_by_eps_in_pixel_units():
    net = small_net(seed=3)
    with torch.no_grad():
        net.final_layer.linear.weight.mul_(200.0)  # push tanh into saturation
    x = image01(64)
    for eps in (4 / 255, 8 / 255, 12 / 255):
        p = net(x, eps)
        assert p.shape == x.shape
        assert p.abs().max() <= eps + 1e-7
        assert p.abs().max() > 0.9 * eps  # the bound is reached, so the test can see a violation


def test_eps_convention_official_12_over_255_is_6_over_255_in_pixel_units():
    net = small_net(seed=4)
    with torch.no_grad():
        net.final_layer.linear.weight.mul_(50.0)
    x01 = image01(64)
    x_pm1 = x01 * 2 - 1  # the official Normalize([0.5], [0.5])

    official = net.forward_official(x_pm1, 12 / 255)  # infer.py --eps 12
    assert official.abs().max() <= 12 / 255 + 1e-7
    protected_official01 = (x_pm1 + official) / 2 + 0.5  # how infer.py maps back before saving

    ours = net(x01, rid_dit.official_scale_to_pixel_eps(12 / 255))

    assert rid_dit.official_scale_to_pixel_eps(12 / 255) == pytest.approx(6 / 255)
    assert rid_dit.pixel_eps_to_official_scale(6 / 255) == pytest.approx(12 / 255)
    assert (x01 + ours - protected_official01).abs().max() <= 1e-6
    assert ours.abs().max() <= 6 / 255 + 1e-7
    assert ours.abs().max() > 0.9 * 6 / 255


def test_conditioning_is_the_zero_vector():
    """adaLN sees c = 0, so only the modulation biases matter, never their weights."""
    net = small_net(seed=5)
    with torch.no_grad():
        for block in net.blocks:
            block.adaLN_modulation[1].bias.normal_(0, 0.5)
        net.final_layer.adaLN_modulation[1].bias.normal_(0, 0.5)
    x = image01(64)
    before = net(x, 8 / 255)
    with torch.no_grad():
        for block in net.blocks:
            block.adaLN_modulation[1].weight.normal_(0, 1.0)
    assert torch.equal(net(x, 8 / 255), before)
    with torch.no_grad():
        net.blocks[0].adaLN_modulation[1].bias.add_(1.0)
    assert not torch.allclose(net(x, 8 / 255), before)


def test_wrong_input_size_is_rejected():
    with pytest.raises(ValueError, match="64, 64"):
        small_net()(image01(32), 8 / 255)


def test_not_mistaken_for_a_compact_generator():
    """The rid engine tells networks apart by a ``config`` attribute, which only ours have."""
    assert not hasattr(small_net(), "config")


def test_official_width_forward_at_512():
    """Real widths and input size (one block instead of 14 to keep CPU time low)."""
    torch.manual_seed(0)
    net = OfficialRIDGenerator(depth=1).eval()
    x = image01(rid_dit.OFFICIAL_INPUT_SIZE, batch=1)
    with torch.inference_mode():
        p = net(x, 6 / 255)
    assert p.shape == (1, 3, 512, 512)
    assert p.abs().max() <= 6 / 255 + 1e-7 and p.abs().max() > 0
