"""The installation self-test (``--self-test`` / ``rid-desktop self-test``) run in process.

The frozen-bundle version of the same check lives in test_packaging_frozen.py (slow).
"""

from __future__ import annotations

import argparse

import pytest
import torch

from rid_desktop import cli
from rid_desktop.commands import self_test as self_test_command
from rid_desktop.engines import base
from rid_desktop.errors import ModelError
from rid_desktop.models import download
from rid_desktop.selftest import generated_image, run_self_test


class _ScaledCheckerEngine:
    """Test-only engine: adds ``scale * eps`` in a +/- checkerboard (never registered for users)."""

    name = "test-checker"

    def __init__(self, scale: float, device=None, **_):
        self.scale = scale

    def protect(self, image, eps, *, seed=0, progress=None):
        h, w = image.shape[-2:]
        yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        sign = ((yy + xx) % 2 * 2 - 1).to(image.dtype)
        return (image + self.scale * eps * sign).clamp(0, 1)


@pytest.fixture
def test_engine(monkeypatch):
    """Register test-only engines for the duration of one test; returns their names by scale."""
    names = {}
    for scale in (1.0, 2.0, 0.0):
        name = f"test-checker-{scale:g}"
        info = base.EngineInfo(name, name, "test only", lambda scale=scale, **kw: _ScaledCheckerEngine(scale, **kw))
        monkeypatch.setitem(base._ENGINES, name, info)
        names[scale] = name
    return names


def test_self_test_passes_with_the_shipped_generator(tmp_path):
    lines: list[str] = []
    code = run_self_test(install_surrogates=False, emit=lines.append, workdir=tmp_path)

    assert code == 0, "\n".join(lines)
    assert lines[0].startswith("RID Desktop ") and "source checkout" in lines[0]
    assert any(line.startswith("[ok]") and "engine 'rid' loaded" in line
               and "rid-compact-pixel.safetensors" in line for line in lines)
    assert any(line.startswith("[ok]") and "protected a 128x96 test image" in line for line in lines)
    assert any(line.startswith("[ok]") and "through a real batch" in line and "wrote and re-read" in line
               and "ICC profile and EXIF kept, GPS removed" in line for line in lines)
    assert not any(line.startswith("[FAIL]") for line in lines)
    assert lines[-1].startswith("self-test passed")
    assert (tmp_path / "photos-protected" / "self-test.jpg").is_file()
    assert (tmp_path / "photos-protected" / "rid-manifest.json").is_file()  # the batch's own bookkeeping


@pytest.mark.parametrize("broken", ["drops metadata", "keeps the original"])
def test_a_writer_that_loses_metadata_or_protection_fails_the_self_test(broken, tmp_path, monkeypatch, test_engine):
    """The file step goes through the batch's real writer, so a bundle whose writer is broken fails."""
    from PIL import Image

    from rid_desktop.batch import runner

    real_save = runner.save_protected

    def plain_save(loaded, protected, output, settings, **_how):
        if broken == "keeps the original":  # the real writer, handed the unprotected pixels
            return real_save(loaded, torch.from_numpy(loaded.rgb).permute(2, 0, 1)[None], output, settings)
        output.parent.mkdir(parents=True, exist_ok=True)  # a plain PIL save, as the self-test once did
        array = (protected[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8")
        Image.fromarray(array).save(output, format="JPEG", quality=95, subsampling=0)

    monkeypatch.setattr(runner, "save_protected", plain_save)
    lines: list[str] = []
    code = run_self_test(engine=test_engine[1.0], install_surrogates=False, emit=lines.append, workdir=tmp_path)
    assert code == 1
    fail = [line for line in lines if line.startswith("[FAIL]")]
    expected = "ICC colour profile" if broken == "drops metadata" else "identical to the original"
    assert len(fail) == 1 and expected in fail[0], lines


def test_missing_surrogates_are_warnings_not_failures(tmp_path, monkeypatch, test_engine):
    monkeypatch.setenv("RID_DESKTOP_MODELS_DIR", str(tmp_path / "empty"))

    def offline(name, **_):
        raise ModelError(f"cannot download {name}: network is unreachable")

    monkeypatch.setattr(download, "install_model", offline)
    lines: list[str] = []
    code = run_self_test(engine=test_engine[1.0], emit=lines.append)

    assert code == 0, "\n".join(lines)
    warnings = [line for line in lines if line.startswith("[warn]")]
    assert len(warnings) == 2
    assert all("network is unreachable" in w and "protection does not need it" in w for w in warnings)
    assert lines[-1] == "self-test passed (2 warnings)"


def test_installed_surrogate_is_loaded_and_measured(tmp_path, monkeypatch, test_engine, shared_models):
    """With no surrogate on disk, the self-test installs it (download stubbed) and then uses it."""
    monkeypatch.setenv("RID_DESKTOP_MODELS_DIR", str(tmp_path / "empty"))
    installed = tmp_path / "data" / "models"
    installed.mkdir(parents=True)

    def fake_install(name, **_):
        spec = download.get_spec(name)
        target = installed / spec.filename
        target.write_bytes((shared_models / spec.filename).read_bytes())
        return target

    monkeypatch.setattr(download, "install_model", fake_install)
    lines: list[str] = []
    code = run_self_test(engine=test_engine[1.0], emit=lines.append)

    assert code == 0, "\n".join(lines)
    assert sum("installed to" in line for line in lines) == 2
    assert any(line.startswith("[ok]") and "surrogate encoder loaded" in line for line in lines)


def test_engine_exceeding_the_budget_fails(test_engine):
    lines: list[str] = []
    code = run_self_test(engine=test_engine[2.0], install_surrogates=False, emit=lines.append)

    assert code == 1
    fail = [line for line in lines if line.startswith("[FAIL]")]
    assert len(fail) == 1 and "exceeds the budget" in fail[0]
    assert lines[-1] == "self-test FAILED"


def test_engine_that_changes_nothing_fails(test_engine):
    lines: list[str] = []
    code = run_self_test(engine=test_engine[0.0], install_surrogates=False, emit=lines.append)

    assert code == 1
    assert any(line.startswith("[FAIL]") and "unchanged" in line for line in lines)


def test_unknown_engine_is_a_one_line_failure():
    lines: list[str] = []
    code = run_self_test(engine="no-such-engine", install_surrogates=False, emit=lines.append)

    assert code == 1
    assert any(line.startswith("[FAIL]") and "unknown engine" in line for line in lines)
    assert not any("Traceback" in line for line in lines)


def test_generated_image_is_deterministic_and_photo_like():
    first, second = generated_image(), generated_image()
    assert first.shape == (96, 128, 3) and first.dtype.name == "uint8"
    assert (first == second).all()
    assert first.std() > 20  # not a flat image: the engine has something to work with


def test_cli_subcommand_runs_the_self_test(test_engine, capsys):
    code = cli.main(["self-test", "--engine", test_engine[1.0], "--no-download"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "wrote and re-read" in out
    assert out.strip().splitlines()[-1].startswith("self-test passed")


def test_subcommand_registers_its_handler():
    parser = argparse.ArgumentParser()
    self_test_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["self-test", "--no-download"])
    assert args.handler is self_test_command.run
    assert args.no_download is True and args.engine == "rid"


def test_extra_checks_run_after_the_engine_and_a_failing_one_fails_the_self_test(test_engine):
    """The windowed app adds its Qt window check this way (the core never imports Qt)."""
    from rid_desktop.selftest import SelfTestFailure

    ran: list[str] = []

    def passing(report):
        ran.append("passing")
        report.ok("extra check passed")

    def failing(report):
        raise SelfTestFailure("the main window could not be shown")

    lines: list[str] = []
    code = run_self_test(engine=test_engine[1.0], install_surrogates=False, emit=lines.append, extra_checks=[passing])
    assert code == 0 and ran == ["passing"] and "[ok]   extra check passed" in lines

    lines = []
    code = run_self_test(engine=test_engine[1.0], install_surrogates=False, emit=lines.append,
                         extra_checks=[passing, failing])
    assert code == 1 and lines[-1] == "self-test FAILED"
    assert [line for line in lines if line.startswith("[FAIL]")] == ["[FAIL] the main window could not be shown"]
