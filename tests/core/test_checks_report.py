"""The check report tells real protection from random noise, and says what each clean-up leaves."""

import json

import pytest
import torch
from PIL import Image

from rid_desktop.checks.ai_view import ai_view_pair, protection_score
from rid_desktop.checks.purifiers import Purifier, parse_purifiers
from rid_desktop.checks.report import (
    GRID_ROWS,
    VerdictThresholds,
    build_check_report,
    centre_region,
    random_sign_noise,
)
from rid_desktop.errors import Cancelled, UserError

EPS = 8 / 255
SEVERITY = {"survives": 0, "weakened": 1, "removed": 2}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


_CACHE: dict = {}  # the PGD scene and its reports are computed once for this module


@pytest.fixture
def surrogate(shared_models):
    from rid_desktop.models.surrogates import load_decoder, load_encoder

    return load_encoder(), load_decoder()


@pytest.fixture
def scene(make_rgb):
    """A 64x64 photo-like image."""
    return torch.from_numpy(make_rgb(64, 64, seed=3)).permute(2, 0, 1)[None].float() / 255


def pgd_on_encoder(encoder, image, eps=EPS, steps=8, step_size=2 / 255, seed=0):
    """Test-only protection: a few PGD steps maximising the surrogate's latent distortion."""
    reference = encoder(image).detach()
    g = torch.Generator().manual_seed(seed)
    delta = (torch.rand(image.shape, generator=g) * 2 - 1) * eps
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = (encoder((image + delta).clamp(0, 1)) - reference).pow(2).mean()
        (grad,) = torch.autograd.grad(loss, delta)
        delta = (delta.detach() + step_size * grad.sign()).clamp(-eps, eps)
    return (image + delta).clamp(0, 1)


@pytest.fixture
def reports(surrogate, scene):
    """Reports for real protection (PGD on the surrogate) and for fake protection (random noise)."""
    if "reports" not in _CACHE:
        _CACHE["reports"] = _build_reports(surrogate, scene)
    return _CACHE["reports"]


def _build_reports(surrogate, scene):
    encoder, decoder = surrogate
    purifiers = parse_purifiers("jpeg:95,jpeg:75,blur:3,grayscale,iwmf,diffpure", diffpure_model=None)
    protected = pgd_on_encoder(encoder, scene)
    fake = random_sign_noise(scene, EPS, seed=123)
    common = dict(encoder=encoder, decoder=decoder, seed=0, name="scene.png")
    return {
        "pgd": build_check_report(scene, protected, EPS, purifiers, **common),
        "noise": build_check_report(scene, fake, EPS, purifiers, with_images=False, **common),
    }


def _results(report):
    return {r.spec: r for r in report.results}


def test_real_protection_beats_noise_before_clean_up(reports):
    assert reports["pgd"].ratio_before > 1.7  # L2 latent ratio (MSE ratio > 3)
    assert 0.7 < reports["noise"].ratio_before < 1.4
    assert reports["pgd"].metrics.linf_255 <= 8.0 + 1e-3
    assert reports["pgd"].metrics.psnr_db > 30


def test_verdicts_move_in_the_expected_direction(reports):
    pgd, noise = _results(reports["pgd"]), _results(reports["noise"])
    ran = [spec for spec, r in pgd.items() if r.status == "ok"]
    assert ran == ["jpeg:95", "jpeg:75", "blur:3", "grayscale", "iwmf:0.4"]
    for spec in ran:
        assert noise[spec].verdict == "removed", spec  # random noise is never "protection"
        assert SEVERITY[pgd[spec].verdict] <= SEVERITY[noise[spec].verdict]
        assert pgd[spec].ratio > noise[spec].ratio
    assert pgd["jpeg:95"].verdict == "survives"  # mild re-compression keeps real protection
    assert pgd["blur:3"].verdict == "removed"  # a heavy blur wipes out a pixel-scale perturbation
    # a stronger clean-up leaves less than a milder one
    assert pgd["jpeg:75"].kept < pgd["jpeg:95"].kept
    assert pgd["blur:3"].kept < pgd["jpeg:95"].kept


def test_unconfigured_diffpure_is_reported_not_raised(reports):
    result = _results(reports["pgd"])["diffpure:0.1"]
    assert result.status == "model not configured"
    assert result.verdict is None and result.ratio is None
    assert "model not configured" in reports["pgd"].to_table()


def test_json_table_and_grid(reports, tmp_path):
    report = reports["pgd"]
    data = json.loads(report.to_json())
    assert data["eps_255"] == pytest.approx(8.0)
    assert [p["spec"] for p in data["purifiers"]][0] == "jpeg:95"
    assert data["thresholds"]["removed_max_ratio"] == VerdictThresholds().removed_max_ratio
    assert data["ratio_before"] == pytest.approx(report.ratio_before)
    table = report.to_table()
    for r in report.results:
        assert r.spec in table
    assert "survives" in table and "PSNR" in table
    path = report.save_grid(tmp_path / "grid.png")
    with Image.open(path) as grid:
        assert grid.format == "PNG"
        columns = 1 + sum(r.status == "ok" for r in report.results)
        assert grid.width > columns * 64 and grid.height > len(GRID_ROWS) * 64
    assert set(report.images) == {"none", "jpeg:95", "jpeg:75", "blur:3", "grayscale", "iwmf:0.4"}
    with pytest.raises(UserError):
        reports["noise"].save_grid(tmp_path / "none.png")  # built without images


def test_identical_images_are_reported_as_unprotected(surrogate, scene):
    encoder, _ = surrogate
    report = build_check_report(scene, scene.clone(), EPS, parse_purifiers("jpeg:90"), encoder=encoder,
                                with_images=False)
    assert report.score_before == 0 and report.ratio_before == 0
    assert report.results[0].verdict == "removed"
    assert json.loads(report.to_json())["metrics"]["psnr_db"] is None  # inf is not valid JSON


def test_failing_purifier_and_progress_and_cancel(surrogate, scene):
    encoder, _ = surrogate

    def broken(image, seed):
        raise RuntimeError("boom")

    calls = []
    purifiers = [Purifier("broken", "always fails", broken), *parse_purifiers("grayscale")]
    report = build_check_report(scene, scene.flip(-1), EPS, purifiers, encoder=encoder, with_images=False,
                                progress=lambda done, total: calls.append((done, total)))
    assert report.results[0].status == "error" and "boom" in report.results[0].message
    assert report.results[1].status == "ok"
    assert calls == [(1, 3), (2, 3), (3, 3)]

    def cancel(done, total):
        raise Cancelled()

    with pytest.raises(Cancelled):
        build_check_report(scene, scene, EPS, purifiers, encoder=encoder, with_images=False, progress=cancel)


def test_mismatched_sizes_are_a_user_error(surrogate, scene):
    encoder, _ = surrogate
    with pytest.raises(UserError, match="size"):
        build_check_report(scene, scene[..., :32], EPS, [], encoder=encoder)


def test_ai_view_pair_and_protection_score(surrogate, scene):
    encoder, decoder = surrogate
    fake = random_sign_noise(scene, EPS)
    view_original, view_protected, score = ai_view_pair(scene, fake, encoder, decoder)
    assert view_original.shape == scene.shape == view_protected.shape
    assert 0 <= view_original.min() and view_original.max() <= 1
    assert (view_original - scene).abs().mean() < 0.1  # the autoencoder reproduces the photo
    assert score.shape == (1,) and score[0] > 0
    assert protection_score(fake, scene, encoder)[0] == pytest.approx(float(score[0]), rel=1e-4)
    assert protection_score(scene, scene)[0] == 0  # default surrogate: TAEF2


def test_verdict_thresholds_are_applied_as_documented():
    t = VerdictThresholds()
    # L2 latent ratios and shares of the L2 distortion kept (the module docstring's thresholds)
    assert t.verdict(ratio_after=1.8, kept=0.8) == "survives"
    assert t.verdict(ratio_after=1.8, kept=0.5) == "weakened"  # far above noise but mostly gone
    assert t.verdict(ratio_after=1.18, kept=0.9) == "weakened"
    assert t.verdict(ratio_after=1.1, kept=0.9) == "removed"
    assert t.verdict(ratio_after=2.2, kept=0.25) == "removed"


def test_centre_region_is_centred_and_a_multiple_of_8():
    assert centre_region(1000, 600, 512) == (244, 44, 512, 512)
    assert centre_region(100, 60, 512) == (2, 2, 96, 56)
    with pytest.raises(UserError):
        centre_region(5, 100, 512)
