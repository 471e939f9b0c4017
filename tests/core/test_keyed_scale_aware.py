"""Issue 15: keyed, scale-aware protection — keys, working scale, the trip objective, eval --chain, resume."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from rid_desktop.batch.runner import photo_seed
from rid_desktop.engines.base import resolve_seed
from rid_desktop.engines.generator_net import GeneratorConfig, PixelGenerator
from rid_desktop.engines.keying import Frame, batch_keyed_call, into_frame, out_of_frame
from rid_desktop.engines.working_scale import to_native_scale, to_working_scale, working_size
from rid_desktop.errors import UserError
from rid_desktop.training.export import save_generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _keyed_file(tmp_path, work_size=64, key_channels=1, camera_rms_cap=0.0, name="keyed"):
    torch.manual_seed(0)
    net = PixelGenerator(GeneratorConfig(width=8, depth=2, key_channels=key_channels, work_size=work_size,
                                         camera_rms_cap=camera_rms_cap))
    with torch.no_grad():  # a visible, image-dependent change (a fresh net's output is ~0)
        net.body.tail.weight.normal_(0, 1.0)
    path = tmp_path / f"{name}.safetensors"
    save_generator(net, net.config, path)
    return path


@pytest.mark.parametrize("dihedral", range(8))
def test_a_frame_maps_back_exactly(dihedral):
    x = torch.rand(2, 4, 37, 53)
    frame = Frame(dihedral, 3, 5)
    assert torch.equal(out_of_frame(into_frame(x, frame), frame), x)


def test_batched_frames_match_one_at_a_time():
    net = PixelGenerator(GeneratorConfig(width=8, depth=2, key_channels=1, rms_cap=0)).eval()  # cap: whole-image
    x, key = torch.rand(3, 3, 160, 192), torch.randn(3, 1, 160, 192)
    eps = torch.full((3,), 8 / 255)
    frames = [Frame(1, 2, 3), Frame(4, 0, 7), Frame(7, 5, 1)]
    batched = batch_keyed_call(net, x, eps, frames, key)
    from rid_desktop.engines.keying import keyed_call

    for i, frame in enumerate(frames):
        single = keyed_call(net, x[i:i + 1], eps[i:i + 1], frame, key[i:i + 1])
        # Padding differs (reflect vs the batch's replicate) only within the receptive field (40 px) of an edge.
        assert torch.allclose(batched[i, :, 48:-48, 48:-48], single[0, :, 48:-48, 48:-48], atol=1e-6)


def test_working_size_shrinks_only_large_photos():
    assert working_size(3000, 4000, 1024) == (768, 1024)
    assert working_size(500, 300, 1024) == (500, 300)
    assert working_size(3000, 4000, 0) == (3000, 4000)
    x = torch.rand(1, 3, 300, 400)
    assert to_working_scale(x, 100).shape[-2:] == (75, 100)
    delta = torch.empty(1, 3, 75, 100).uniform_(-1, 1) * (8 / 255)
    up = to_native_scale(delta, (300, 400), 8 / 255)
    assert up.shape[-2:] == (300, 400) and up.abs().max() <= 8 / 255 + 1e-7


def test_keyed_engine_same_seed_same_change_other_seed_other_change(tmp_path):
    from rid_desktop.engines.rid import RIDEngine

    engine = RIDEngine(model_path=str(_keyed_file(tmp_path, work_size=0)))
    x = torch.rand(1, 3, 48, 64)
    a, b, c = (engine.protect(x, 8 / 255, seed=s) for s in (1, 1, 2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert (a - x).abs().max() <= 8 / 255 + 1e-6 and (c - x).abs().max() <= 8 / 255 + 1e-6
    cos = torch.nn.functional.cosine_similarity((a - x).flatten(), (c - x).flatten(), dim=0)
    assert cos < 0.9


def test_no_seed_draws_a_fresh_key_each_time(tmp_path):
    assert resolve_seed(None) != resolve_seed(None)
    assert resolve_seed(5) == 5
    assert photo_seed(None, "ab12") != photo_seed(None, "ab12")
    assert photo_seed(3, "ab12") == photo_seed(3, "ab12") != photo_seed(3, "cd34")
    from rid_desktop.settings import ProtectionSettings

    assert ProtectionSettings(seed=1).fingerprint() == ProtectionSettings(seed=None).fingerprint()


def test_large_photos_are_protected_at_the_working_scale(tmp_path):
    """The change of a photo larger than work_size is a smooth upsampling of a work_size change."""
    from rid_desktop.engines.rid import RIDEngine

    engine = RIDEngine(model_path=str(_keyed_file(tmp_path, work_size=64)))
    assert engine.work_size == 64
    x = torch.rand(1, 3, 256, 256)
    delta = engine.protect(x, 8 / 255, seed=3) - x
    assert delta.abs().max() <= 8 / 255 + 1e-6
    small = torch.nn.functional.interpolate(delta, size=(64, 64), mode="area")
    again = torch.nn.functional.interpolate(small, size=(256, 256), mode="bicubic", align_corners=False)
    inside = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    # Native-scale detail would not survive this round trip; a working-scale change nearly does.
    assert (again - delta)[inside].pow(2).mean() < 0.2 * delta[inside].pow(2).mean()
    native = RIDEngine(model_path=str(_keyed_file(tmp_path, work_size=0)), work_size=0)
    d_native = native.protect(x, 8 / 255, seed=3) - x
    small_n = torch.nn.functional.interpolate(d_native, size=(64, 64), mode="area")
    again_n = torch.nn.functional.interpolate(small_n, size=(256, 256), mode="bicubic", align_corners=False)
    assert (again_n - d_native)[inside].pow(2).mean() > 0.4 * d_native[inside].pow(2).mean()


def test_magnified_cap_factor_moves_from_one_to_the_camera_cap():
    from rid_desktop.engines.working_scale import magnified_cap_factor

    assert magnified_cap_factor(1.0, 0.55, 0.44) == 1.0  # not upsampled: the generator's own cap
    assert magnified_cap_factor(4.0, 0.55, 0.44) == pytest.approx(0.8)  # a 12 MP photo: the camera cap
    assert magnified_cap_factor(8.0, 0.55, 0.44) == pytest.approx(0.8)
    assert magnified_cap_factor(2.0, 0.55, 0.44) == pytest.approx(0.8 ** 0.5)  # geometric in between
    assert magnified_cap_factor(4.0, 0.55, 0.0) == 1.0  # no camera cap stored
    assert magnified_cap_factor(4.0, 0.55, 0.70) == 1.0  # magnification never buys a larger change


def test_a_camera_cap_scales_down_only_the_changes_of_photos_larger_than_the_working_size(tmp_path):
    """Same key, same photo: the stored camera cap halves the change written 4x up, and leaves small
    photos alone (their change is not magnified)."""
    from rid_desktop.engines.rid import RIDEngine

    plain = RIDEngine(model_path=str(_keyed_file(tmp_path, name="plain")))
    cap = plain.net.config.rms_cap
    quiet = RIDEngine(model_path=str(_keyed_file(tmp_path, camera_rms_cap=cap / 2, name="quiet")))
    assert quiet.net.config.camera_rms_cap == pytest.approx(cap / 2)
    big = 0.25 + 0.5 * torch.rand(1, 3, 256, 256)  # no clipping at the range ends
    d_plain, d_quiet = (e.protect(big, 8 / 255, seed=3) - big for e in (plain, quiet))
    assert d_quiet.pow(2).mean().sqrt().item() == pytest.approx(0.5 * d_plain.pow(2).mean().sqrt().item(), rel=0.05)
    small = big[..., :64, :64]
    assert torch.equal(quiet.protect(small, 8 / 255, seed=3), plain.protect(small, 8 / 255, seed=3))


def test_chroma_engine_stays_chroma_only_and_keyed():
    from rid_desktop.engines.chroma_ops import rgb_to_ycbcr
    from rid_desktop.engines.dwt_chroma import DWTChromaEngine

    engine = DWTChromaEngine(work_size=64)
    x = torch.rand(1, 3, 200, 160)
    a, b = engine.protect(x, 8 / 255, seed=1), engine.protect(x, 8 / 255, seed=2)
    inner = (slice(None), slice(0, 1), slice(2, -2), slice(2, -2))
    luma_change = (rgb_to_ycbcr(a) - rgb_to_ycbcr(x))[inner]
    unclipped = ((a > 0.002) & (a < 0.998)).all(1, keepdim=True)[inner]
    assert luma_change[unclipped].abs().max() < 1e-4
    assert not torch.equal(a, b)


def test_iterative_starts_from_the_keyed_generator(shared_models):
    from rid_desktop.engines import create_engine
    from rid_desktop.engines.rid import RIDEngine

    x = torch.rand(1, 3, 64, 96)
    zero_steps = create_engine("iterative", steps=0, robust=False).protect(x, 8 / 255, seed=4)
    generator = RIDEngine(work_size=0).protect(x, 8 / 255, seed=4)
    assert torch.allclose(zero_steps, generator, atol=1e-6)
    refined = create_engine("iterative", steps=2, robust=False).protect(x, 8 / 255, seed=4)
    assert not torch.allclose(refined, generator) and (refined - x).abs().max() <= 8 / 255 + 1e-6


def test_refined_engine_beats_the_generator_on_taef2_at_its_psnr(shared_models, make_rgb):
    """``refined``'s four steps raise the L2 latent ratio (TAEF2, vs same-L-inf sign noise, 8-bit) by
    half or more as written, without lowering PSNR below the generator's 35 dB floor."""
    import math

    from rid_desktop.engines import create_engine
    from rid_desktop.engines.rid import RIDEngine
    from rid_desktop.models.surrogates import load_encoder

    x = torch.from_numpy(make_rgb(128, 160, seed=5)).permute(2, 0, 1)[None].float() / 255
    eps = 8 / 255
    encoder = load_encoder()
    noise = (x + eps * (torch.randint(0, 2, x.shape, generator=torch.Generator().manual_seed(1)) * 2 - 1)).clamp(0, 1)

    def l2_ratio(y):
        with torch.no_grad():
            ref = encoder(x)
            return ((encoder(y) - ref).norm() / (encoder(noise) - ref).norm()).item()

    def psnr(y):
        return 10 * math.log10(1 / (y - x).pow(2).mean().item())

    generator = (RIDEngine().protect(x, eps, seed=3) * 255).round() / 255
    for low_precision in (False, True):  # float32 encoder passes, and bf16 ones (used where native)
        refined = (create_engine("refined", low_precision=low_precision).protect(x, eps, seed=3) * 255).round() / 255
        assert l2_ratio(refined) > 1.5 * l2_ratio(generator), (low_precision, l2_ratio(refined), l2_ratio(generator))
        assert psnr(refined) >= 34.8 and (refined - x).abs().max() <= eps + 1e-6


def test_low_precision_encoder_passes_follow_the_hardware_and_keep_the_objective(shared_models, monkeypatch,
                                                                                 make_rgb):
    """PGD's encoder passes run in bf16 only where the device does bf16 natively; the objective they
    give stays float32 and within 2 % of float32's, so Strong is faster there and no weaker."""
    from rid_desktop.engines import iterative, precision
    from rid_desktop.engines.objectives import SurrogateObjective
    from rid_desktop.models.surrogates import load_encoder

    assert isinstance(precision.native_bf16(torch.device("cpu")), bool)
    for native in (False, True):
        monkeypatch.setattr(iterative, "native_bf16", lambda device, native=native: native)
        engine = iterative.RefinedEngine()
        assert engine.low_precision is native and engine.objective.low_precision is native
    assert iterative.RefinedEngine(low_precision=False).objective.low_precision is False  # an explicit choice wins

    x = torch.cat([torch.from_numpy(make_rgb(96, 96, seed=i)).permute(2, 0, 1)[None].float() / 255 for i in (1, 2)])
    y = (x + 8 / 255 * torch.sign(torch.randn(x.shape, generator=torch.Generator().manual_seed(1)))).clamp(0, 1)
    scores = []
    for low in (False, True):
        objective = SurrogateObjective([load_encoder()], low_precision=low)
        score = objective(y, objective.reference(x))
        assert score.dtype == torch.float32
        scores.append(score)
    assert not torch.equal(*scores) and torch.allclose(scores[1], scores[0], rtol=0.02)


def test_trip_shares_and_the_subtraction_weight_reach_the_objective():
    import random

    from rid_desktop.training.trip import Trip, TripWeights, keyed_trip_loss, sample_trip

    rng = random.Random(0)
    assert all(sample_trip(rng, none_share=1.0, jpeg_share=0.0) == Trip(1.0, 0.0) for _ in range(20))
    trips = [sample_trip(rng, none_share=0.0, jpeg_share=1.0) for _ in range(20)]
    assert all(t.factor != 1.0 and 60 <= t.quality <= 95 for t in trips)

    torch.manual_seed(0)
    net = PixelGenerator(GeneratorConfig(width=8, depth=2, key_channels=1))
    encoder = torch.nn.Sequential(*[torch.nn.Conv2d(3, 3, 3, padding=1) for _ in range(8)])
    x, eps = torch.rand(2, 3, 32, 32), torch.full((2,), 8 / 255)
    losses = []
    for weight in (0.0, 1.0):
        torch.manual_seed(1)
        loss, parts = keyed_trip_loss(net, encoder, x, eps, Trip(), TripWeights(subtraction=weight), 1)
        losses.append(loss.item())
    assert losses[1] - losses[0] == pytest.approx(parts["sub"], rel=1e-4, abs=1e-4)


def test_distillation_target_is_stronger_and_stays_writable():
    """The PGD-refined target must beat the change it starts from and obey L-inf, pixel range and rms cap."""
    from rid_desktop.training.trip import Trip, TripWeights, encode_with_features, keyed_trip_loss, refine_target

    torch.manual_seed(0)
    encoder = torch.nn.Sequential(*[torch.nn.Conv2d(3, 3, 3, padding=1) for _ in range(8)])
    x, eps = torch.rand(2, 3, 32, 32), torch.full((2,), 8 / 255)
    start = (torch.rand_like(x) - 0.5) * 0.2 * eps.reshape(-1, 1, 1, 1)

    def latent_gain(delta):
        with torch.no_grad():
            return (encode_with_features(encoder, x + delta)[1] - encode_with_features(encoder, x)[1]).pow(2).sum()

    target = refine_target(encoder, x, start, eps, Trip(), steps=4, rms_cap=0.55)
    assert not target.requires_grad
    assert target.abs().max() <= eps[0] + 1e-6
    assert ((x + target) >= -1e-6).all() and ((x + target) <= 1 + 1e-6).all()
    assert target.pow(2).flatten(1).mean(1).sqrt().max() <= 0.55 * eps[0] + 1e-6
    assert latent_gain(target) > 4 * latent_gain(start)

    net = PixelGenerator(GeneratorConfig(width=8, depth=2, key_channels=1, rms_cap=0.55))
    losses = []
    for weight in (0.0, 1.0):
        torch.manual_seed(1)
        loss, parts = keyed_trip_loss(net, encoder, x, eps, Trip(), TripWeights(distill=weight), 1)
        losses.append(loss.item())
    assert parts["distill"] > 0
    assert losses[1] - losses[0] == pytest.approx(parts["distill"], rel=1e-4, abs=1e-4)


def test_bf16_encoder_gives_the_float32_loss_and_gradient_direction(shared_models, make_rgb):
    """Training's bfloat16 encoder pass is a faster copy of the float32 one, not another objective:
    the damage it scores stays within 2 % and its gradient points the same way (cosine > 0.95)."""
    import copy

    from rid_desktop.models.surrogates import load_encoder
    from rid_desktop.training.trip import encode_with_features, trip_damage

    encoder = load_encoder()
    fast = copy.deepcopy(encoder).to(memory_format=torch.channels_last)
    x = torch.cat([torch.from_numpy(make_rgb(64, 64, seed=i)).permute(2, 0, 1)[None] / 255 for i in (1, 2)]).float()
    start = torch.sign(torch.randn(x.shape, generator=torch.Generator().manual_seed(0))) * 4 / 255

    def damage_and_grad(model, bf16):
        delta = start.clone().requires_grad_(True)
        with torch.no_grad():
            ref = encode_with_features(model, x, bf16)
        feat, lat = encode_with_features(model, (x + delta).clamp(0, 1), bf16)
        assert feat.dtype == lat.dtype == torch.float32  # the loss is always computed in float32
        damage = trip_damage(feat, lat, *ref, 0.5)
        return damage.detach(), torch.autograd.grad(damage.sum(), delta)[0]

    d32, g32 = damage_and_grad(encoder, False)
    d16, g16 = damage_and_grad(fast, True)
    assert not torch.equal(d32, d16)  # it really ran another precision
    assert torch.allclose(d16, d32, rtol=0.02)
    assert torch.nn.functional.cosine_similarity(g16.flatten(1), g32.flatten(1), dim=1).min() > 0.95


def test_lambda_feature_sets_how_much_the_stride4_features_count(monkeypatch, tmp_path, make_rgb, shared_models):
    """The as-written metric is the latent alone; the feature term is for transfer. The flag must reach the
    loss, and at 0 the damage must be the latent's alone."""
    from rid_desktop.training import train
    from rid_desktop.training.trip import trip_damage

    torch.manual_seed(0)
    feat, lat = torch.randn(2, 4, 8, 8), torch.randn(2, 3, 4, 4)
    ref_feat, ref_lat = torch.randn(2, 4, 8, 8), torch.randn(2, 3, 4, 4)
    latent_only = torch.log((lat - ref_lat).pow(2).flatten(1).mean(1) + 1e-6)
    assert torch.allclose(trip_damage(feat, lat, ref_feat, ref_lat, 0.0), latent_only)
    assert not torch.allclose(trip_damage(feat, lat, ref_feat, ref_lat, 0.5), latent_only)

    class Seen(Exception):
        pass

    def record(net, encoder, x, eps, trip, weights, key_channels):
        raise Seen(weights.feature)

    monkeypatch.setattr(train, "keyed_trip_loss", record)
    data = tmp_path / "train"
    data.mkdir()
    for i in range(8):
        Image.fromarray(make_rgb(64, 64, seed=i)).save(data / f"t{i}.png")
    for value in ("0.0", "0.25"):
        with pytest.raises(Seen) as seen:
            train.main(["--out", str(tmp_path / "g.safetensors"), "--data", str(data), "--key-channels", "1",
                        "--work-size", "256", "--batch", "2", "--crop", "32", "--width", "8", "--depth", "2",
                        "--threads", "1", "--steps", "1", "--holdout-every", "4", "--lambda-feature", value])
        assert seen.value.args == (float(value),)


def test_direction_distillation_ignores_amplitude(monkeypatch):
    """The direction-only pull is 1 - cosine: a change half the target's size in its direction costs nothing."""
    from rid_desktop.training import trip as trip_module
    from rid_desktop.training.trip import Trip, TripWeights, keyed_trip_loss

    torch.manual_seed(0)
    encoder = torch.nn.Sequential(*[torch.nn.Conv2d(3, 3, 3, padding=1) for _ in range(8)])
    x, eps = torch.rand(2, 3, 32, 32), torch.full((2,), 8 / 255)
    net = PixelGenerator(GeneratorConfig(width=8, depth=2, key_channels=1, rms_cap=0.55))
    seen = {}

    def fake_target(encoder, x, delta, *args, **kwargs):
        return 2 * delta.detach()  # same direction, twice the size

    monkeypatch.setattr(trip_module, "refine_target", fake_target)
    for direction in (False, True):
        torch.manual_seed(1)
        _, parts = keyed_trip_loss(net, encoder, x, eps, Trip(),
                                   TripWeights(distill=1.0, distill_direction=direction), 1)
        seen[direction] = parts["distill"]
    assert seen[False] > 0.0  # the mean-squared pull wants the change bigger
    assert seen[True] == pytest.approx(0.0, abs=1e-5)  # the direction pull is already satisfied


def test_decoded_ratio_scores_what_the_decoder_gives_back():
    from rid_desktop.training.trip_eval import _ratio, to_pil

    x = torch.full((1, 3, 16, 16), 128 / 255)  # on the 8-bit grid, so the files hold exactly these changes
    signs = torch.sign(torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)))
    y, n = x + 10 / 255, x + 5 / 255 * signs
    imgs = [to_pil(t) for t in (x, y, n)]
    identity = torch.nn.Identity()
    ratio = _ratio(identity, lambda im: im, *imgs, decoder=identity)[2]
    assert ratio == pytest.approx(2.0, rel=1e-3)  # an identity autoencoder: the pixel L2 ratio

    def blind(z):  # a decoder that keeps only the mean colour: noise averages out, a flat shift does not
        return z.mean(dim=(1, 2, 3), keepdim=True)

    assert _ratio(identity, lambda im: im, *imgs, decoder=blind)[2] > 5 * ratio
    assert _ratio(identity, lambda im: im, imgs[0], imgs[2], imgs[2], decoder=identity)[2] == pytest.approx(1.0)


def test_chain_presets_parse_and_apply():
    from rid_desktop.training.trip_eval import parse_chain

    img = Image.new("RGB", (2000, 1500), (120, 90, 60))
    out = parse_chain("post:1080,jpeg:80,train:512")(img)
    assert out.size == (512, 512)
    assert parse_chain("down:1024")(img).size == (1024, 768)
    assert parse_chain("post:1080")(Image.new("RGB", (600, 400))).size == (600, 400)  # never upscaled
    assert parse_chain("none")(img) is img
    for bad in ("jpeg:0", "blur:3", "down:x", "train"):
        with pytest.raises(UserError):
            parse_chain(bad)


def test_eval_chain_reports_l2_first_and_the_attacks(tmp_path, make_rgb, shared_models):
    from rid_desktop.cli import main

    data = tmp_path / "photos"
    data.mkdir()
    for i in range(2):
        Image.fromarray(make_rgb(96, 128, seed=i)).save(data / f"p{i}.png")
    code = main(["eval", str(data), "--engines", "rid", "--strengths", "8", "--chain", "none",
                 "--chain", "jpeg:75", "--decoded", "-o", str(tmp_path / "out")])
    assert code == 0
    table = (tmp_path / "out" / "trip.md").read_text()
    assert "L2 (MSE) none" in table and "L2 (MSE) jpeg:75" in table and "4-key" in table
    row = next(line for line in table.splitlines() if line.startswith("| rid |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    l2, mse = cells[3].split(" (")
    assert abs(float(l2) ** 2 - float(mse.rstrip(")"))) < 0.2 * float(mse.rstrip(")")) + 0.02
    header_line = next(line for line in table.splitlines() if line.startswith("| method"))
    header = [c.strip() for c in header_line.strip("|").split("|")]
    seen_100, seen_fit = (float(v) for v in cells[header.index("visible vs noise 100 % / fit")].split(" / "))
    assert 0.05 < seen_100 < 5 and 0.05 < seen_fit < 5  # measured, not a placeholder
    assert 0 < float(cells[header.index("periodic")]) < 1
    assert 0.05 < float(cells[header.index("decoded L2 none")]) < 20  # the decoder-side proxy was measured
    assert 0.05 < float(cells[header.index("decoded L2 jpeg:75")]) < 20
    assert main(["eval", str(data), "--chain", "blur:2", "-o", str(tmp_path / "o2")]) == 2


def test_keyed_training_runs_resumes_from_its_folder_and_exports(tmp_path, make_rgb, shared_models):
    from rid_desktop.engines.generator_loading import read_generator_config
    from rid_desktop.training import train

    data = tmp_path / "train"
    data.mkdir()
    for i in range(12):
        Image.fromarray(make_rgb(80, 96, seed=i)).save(data / f"t{i:02d}.png")
    run = tmp_path / "run"
    train.main(["--run-dir", str(run), "--data", str(data), "--key-channels", "1", "--work-size", "512",
                "--batch", "2", "--crop", "48", "--width", "8", "--depth", "2", "--log-every", "2",
                "--threads", "1", "--steps", "2", "--holdout-every", "4",
                "--lambda-visibility", "0.4", "--select-visibility", "0.5", "--trip-none-share", "0.5",
                "--lambda-coherence", "2", "--select-coherence", "0.3",
                "--lambda-peakiness", "3", "--select-peakiness", "0.5",
                "--trip-jpeg-share", "0.9", "--lambda-subtraction", "0.25", "--select-clean", "1",
                "--lambda-distill", "1", "--distill-steps", "1", "--snapshots", "--encoder-bf16"])
    assert (run / "args.json").is_file() and (run / "generator.safetensors").is_file()
    train.main(["--resume", str(run), "--steps", "4"])
    # --snapshots is a saved option too: every logged step left a loadable export, the resumed ones included
    snapshots = sorted(p.name for p in (run / "snapshots").iterdir())
    assert snapshots == ["step-000002.safetensors", "step-000004.safetensors"]
    assert read_generator_config(run / "snapshots" / snapshots[-1]).key_channels == 1
    log = [json.loads(line) for line in (run / "generator.log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4]
    assert {"l2_clean", "l2_trip", "l2_subtracted", "key_cos", "cross_cos", "vis", "vis1", "vis4", "coh", "peak",
            "distill"} <= set(log[-1])  # the resumed run kept the saved options, distillation included
    assert 0 < log[-1]["vis"] < 10  # the visibility term took part in the loss
    config = read_generator_config(run / "generator.safetensors")
    assert config.key_channels == 1 and config.work_size == 512
    with pytest.raises(SystemExit):
        train.main(["--resume", str(tmp_path / "not-a-run")])


def test_visibility_per_energy_cannot_be_lowered_by_writing_less(monkeypatch):
    """Per unit of energy, half the change is exactly as visible: the term can move it, not shrink it."""
    from types import SimpleNamespace

    from rid_desktop.training import trip as trip_module
    from rid_desktop.training.trip import Trip, TripWeights, keyed_trip_loss

    torch.manual_seed(0)
    encoder = torch.nn.Sequential(*[torch.nn.Conv2d(3, 3, 3, padding=1) for _ in range(8)])
    x, eps = 0.2 + 0.6 * torch.rand(2, 3, 32, 32), torch.full((2,), 8 / 255)  # no clipping at the range ends
    pattern = torch.randn(6, 3, 32, 32).clamp(-1, 1) * 8 / 255
    net = SimpleNamespace(raw_penalty=torch.zeros(()))
    seen = {}
    for size in (1.0, 0.5):
        monkeypatch.setattr(trip_module, "batch_keyed_call",
                            lambda net, images, *rest, s=size: s * pattern[: images.shape[0]])
        torch.manual_seed(1)
        _, parts = keyed_trip_loss(net, encoder, x, eps, Trip(),
                                   TripWeights(visibility=1.0, visibility_per_energy=True), 1)
        seen[size] = parts
    assert seen[0.5]["vis"] == pytest.approx(seen[1.0]["vis"] / 2, rel=1e-4)  # the plain term rewards writing less
    assert seen[0.5]["vis_per_energy"] == pytest.approx(seen[1.0]["vis_per_energy"], rel=1e-4)


def test_view_scale_max_sets_how_magnified_the_visibility_term_looks(monkeypatch, tmp_path):
    """A 12 MP photo shows a change made at 1024 px about 4x magnified: the flag must reach the term."""
    from types import SimpleNamespace

    from rid_desktop.training import train
    from rid_desktop.training import trip as trip_module
    from rid_desktop.training.trip import Trip, TripWeights, keyed_trip_loss

    views = []
    monkeypatch.setattr(trip_module, "visibility_ratio",
                        lambda delta, image, eps, upsample=1.0: views.append(upsample) or torch.ones(len(delta)))
    monkeypatch.setattr(trip_module, "batch_keyed_call", lambda net, images, *rest: 0.01 * torch.ones_like(images))
    encoder = torch.nn.Sequential(*[torch.nn.Conv2d(3, 3, 3, padding=1) for _ in range(8)])
    x, eps = torch.rand(2, 3, 16, 16), torch.full((2,), 8 / 255)
    net = SimpleNamespace(raw_penalty=torch.zeros(()))
    torch.manual_seed(0)
    for view_max in (1.0, 8.0):
        for _ in range(40):
            keyed_trip_loss(net, encoder, x, eps, Trip(), TripWeights(visibility=1.0, view_scale_max=view_max), 1)
    assert views[:40] == [1.0] * 40
    assert all(1.0 <= v <= 8.0 for v in views[40:]) and max(views[40:]) > 4.0
    with pytest.raises(SystemExit):
        train.main(["--out", str(tmp_path / "g.safetensors"), "--data", str(tmp_path), "--key-channels", "1",
                    "--view-scale-max", "0.5"])
