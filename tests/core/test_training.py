"""Generator training runs, resumes, exports a file the engines load; evaluation writes its reports."""

import json

import torch
from PIL import Image

from rid_desktop.engines.generator_loading import read_generator_config
from rid_desktop.engines.generator_net import GeneratorConfig, PixelGenerator, cap_rms, texture_mask
from rid_desktop.errors import ModelError
from rid_desktop.training import train


def _folder(tmp_path, make_rgb, n=3, size=96):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(n):
        Image.fromarray(make_rgb(size, size + 16, seed=i)).save(folder / f"img_{i}.png")
    return folder


def test_train_resume_and_export(tmp_path, make_rgb, shared_models):
    data = _folder(tmp_path, make_rgb)
    out = tmp_path / "gen.safetensors"
    common = ["--data", str(data), "--val-data", str(data), "--out", str(out), "--batch", "2", "--crop", "48",
              "--width", "8", "--depth", "2", "--log-every", "2", "--threads", "1"]
    train.main(common + ["--steps", "2"])
    assert out.is_file()
    log = [json.loads(line) for line in out.with_suffix(".log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 2 and "ratio_clean" in log[-1] and "psnr" in log[-1]
    train.main(common + ["--steps", "4"])  # resumes from step 2, runs 2 more
    log = [json.loads(line) for line in out.with_suffix(".log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4]
    config = read_generator_config(out)
    assert config.width == 8 and config.kind == "pixel"

    from rid_desktop.engines import create_engine

    x = torch.rand(1, 3, 40, 50)
    y = create_engine("rid", model_path=str(out)).protect(x, 8 / 255)
    assert (y - x).abs().max() <= 8 / 255 + 1e-6


def test_texture_mask_gives_flat_regions_less_budget():
    flat = torch.full((1, 3, 32, 32), 0.5)
    busy = torch.rand(1, 3, 32, 32)
    assert texture_mask(flat, 0.3, 0.04).max() < 0.31
    assert texture_mask(busy, 0.3, 0.04).mean() > 0.9


def test_rms_cap_bounds_visibility_and_keeps_linf():
    eps = torch.tensor(8 / 255).reshape(1, 1, 1, 1)
    delta = torch.sign(torch.randn(2, 3, 16, 16)) * eps
    capped = cap_rms(delta, eps, 0.5)
    rms = capped.pow(2).flatten(1).mean(1).sqrt()
    assert torch.all(rms <= 0.5 * eps.flatten() + 1e-7)
    assert capped.abs().max() <= eps.max()
    small = delta * 0.1
    assert torch.equal(cap_rms(small, eps, 0.5), small)  # never scaled up


def test_config_round_trips_through_metadata():
    config = GeneratorConfig(kind="chroma", width=16, depth=3, mask_floor=0.2, rms_cap=0.0)
    assert GeneratorConfig.from_metadata(config.to_metadata() | {"train_steps": "10"}) == config
    assert PixelGenerator(GeneratorConfig(width=8, depth=1))(torch.rand(1, 3, 9, 13), 4 / 255).shape == (1, 3, 9, 13)


def test_eval_command_writes_table_and_plot(tmp_path, make_rgb, shared_models):
    from rid_desktop.cli import main

    data = _folder(tmp_path, make_rgb, n=2, size=64)
    out = tmp_path / "report"
    code = main(["eval", str(data), "--engines", "rid,dwt-chroma", "--strengths", "8", "--size", "64",
                 "--pgd-steps", "2", "-o", str(out)])
    assert code == 0
    table = (out / "eval.md").read_text()
    for method in ["rid", "dwt-chroma", "pgd2", "noise"]:
        assert f"| {method} |" in table
    assert (out / "eval.png").stat().st_size > 1000
    assert len((out / "eval.csv").read_text().splitlines()) == 1 + 2 * 5  # header + images x methods
    sheet = Image.open(out / "comparison.jpg")
    assert sheet.size == (64 * 5, 64 * 2)  # original + 2 engines x (protected, change); one row per photo


def test_eval_compares_a_named_checkpoint(tmp_path, make_rgb, shared_models):
    from rid_desktop.models.registry import locate
    from rid_desktop.training.evaluate import evaluate_folder

    data = _folder(tmp_path, make_rgb, n=1, size=48)
    rows = evaluate_folder(data, engines=["rid", f"rid:{locate('rid-compact-pixel')}"], strengths=[8], size=48,
                           pgd_steps=0, progress=None)
    methods = {r.method: r for r in rows}
    assert "rid[rid-compact-pixel]" in methods
    # the same checkpoint through the named spec gives the same protection as the default engine
    assert abs(methods["rid[rid-compact-pixel]"].distortion - methods["rid"].distortion) < 1e-6


def test_universal_pattern_repeats_with_its_period_and_round_trips():
    net = PixelGenerator(GeneratorConfig(width=8, depth=1, pattern=16))
    with torch.no_grad():
        net.universal.normal_()
    tiled = net.universal_pattern(40, 37)
    assert tiled.shape == (1, 3, 40, 37)
    assert torch.equal(tiled[..., 16:32, 16:32], tiled[..., :16, :16])
    assert torch.equal(tiled[..., 32:, :], tiled[..., : 40 - 32, :])
    config = GeneratorConfig.from_metadata(net.config.to_metadata())
    assert config.pattern == 16
    assert PixelGenerator(GeneratorConfig(width=8, depth=1)).universal is None  # older files: no pattern


def test_warm_start_grows_a_generator_without_changing_its_output(tmp_path):
    from rid_desktop.training.export import save_generator
    from rid_desktop.training.warm_start import warm_start

    small_config = GeneratorConfig(width=8, depth=2)
    small = PixelGenerator(small_config)
    with torch.no_grad():
        small.body.tail.weight.normal_(std=0.5)  # a "trained" output layer, not the near-zero init
    path = tmp_path / "small.safetensors"
    save_generator(small, small_config, path)
    big = PixelGenerator(GeneratorConfig(width=16, depth=2, pattern=32))
    grown = warm_start(big, path)
    assert "body.head.weight" in grown and "body.tail.bias" not in grown
    x = torch.rand(2, 3, 24, 40)
    small.eval(), big.eval()
    with torch.no_grad():
        assert torch.allclose(small(x, 8 / 255), big(x, 8 / 255), atol=1e-7)
    # the new channels are alive (non-zero head rows) so training can use them
    assert big.body.head.weight[8:].abs().sum() > 0
    try:
        warm_start(PixelGenerator(GeneratorConfig(width=4, depth=2)), path)
    except ModelError as exc:
        assert "cannot grow" in str(exc)
    else:
        raise AssertionError("shrinking must be refused")


def test_train_refuses_an_init_file_that_does_not_fit_with_one_line(tmp_path, capsys):
    from rid_desktop.cli import main
    from rid_desktop.training.export import save_generator

    config = GeneratorConfig(width=8, depth=1, pattern=16)
    path = tmp_path / "patterned.safetensors"
    save_generator(PixelGenerator(config), config, path)
    code = main(["train", "--out", str(tmp_path / "new.safetensors"), "--width", "8", "--depth", "1",
                 "--init", str(path), "--steps", "1"])  # no --pattern: the file has weights this net lacks
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "universal" in err and "Traceback" not in err


def test_detail_head_grows_in_without_changing_output_then_learns_and_reloads(tmp_path):
    """A keyed generator grown by the half-resolution detail head keeps its change exactly until
    training moves the head; after one optimiser step the change differs, and the saved file
    rebuilds the head (config field in the metadata) and gives the same change for the same key."""
    from rid_desktop.engines import create_engine
    from rid_desktop.engines.generator_net import make_key
    from rid_desktop.training.export import save_generator
    from rid_desktop.training.warm_start import warm_start

    base_config = GeneratorConfig(width=8, depth=2, key_channels=1)
    base = PixelGenerator(base_config)
    with torch.no_grad():
        base.body.tail.weight.normal_(std=0.5)
    base_path = tmp_path / "base.safetensors"
    save_generator(base, base_config, base_path)
    grown_config = GeneratorConfig(width=8, depth=2, key_channels=1, detail_width=6)
    grown = PixelGenerator(grown_config)
    warm_start(grown, base_path)
    x, key = torch.rand(2, 3, 27, 39), make_key((2, 1, 27, 39), 5)  # odd sizes: the 2x2 unshuffle pads
    base.eval(), grown.eval()
    with torch.no_grad():
        assert torch.allclose(base(x, 8 / 255, key), grown(x, 8 / 255, key), atol=1e-7)

    grown.train()
    opt = torch.optim.SGD(grown.detail.parameters(), lr=1.0)
    grown(x, 8 / 255, key).pow(2).sum().neg().backward()
    opt.step()
    grown.eval()
    with torch.no_grad():
        moved = grown(x, 8 / 255, key)
    assert (moved - base(x, 8 / 255, key)).abs().max() > 1e-4
    assert moved.abs().max() <= 8 / 255 + 1e-7

    path = tmp_path / "grown.safetensors"
    save_generator(grown, grown_config, path)
    assert read_generator_config(path).detail_width == 6
    engine = create_engine("rid", model_path=str(path))
    assert engine.net.detail is not None
    image = torch.rand(1, 3, 31, 45)
    assert torch.equal(engine.protect(image, 8 / 255, seed=9), engine.protect(image, 8 / 255, seed=9))
