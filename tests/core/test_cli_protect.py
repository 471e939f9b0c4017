"""`rid-desktop protect` and the CLI's exit codes (rid_desktop.cli, rid_desktop.commands.protect)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rid_desktop import cli
from rid_desktop.commands import protect
from tests.conftest import SignEngine


@pytest.fixture
def test_engine(monkeypatch):
    chosen = []

    def make(settings, **_how):
        chosen.append(settings)
        return SignEngine()

    monkeypatch.setattr(protect, "make_engine", make)
    return chosen


def photos(folder: Path, n=2) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    paths = []
    for i in range(n):
        path = folder / f"p{i}.jpg"
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(path, quality=95)
        paths.append(path)
    return paths


def test_protect_folder_exit_0_summary_and_outputs(tmp_path, test_engine, capsys):
    sources = photos(tmp_path / "album")
    before = [hashlib.sha256(p.read_bytes()).hexdigest() for p in sources]
    code = cli.main(["protect", str(tmp_path / "album"), "--strength", "high", "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0
    assert "protected" in out and "2" in out and str(tmp_path / "album-protected") in out
    assert sorted(p.name for p in (tmp_path / "album-protected").glob("*.jpg")) == ["p0.jpg", "p1.jpg"]
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in sources] == before
    (settings,) = test_engine
    assert settings.engine == "rid" and abs(settings.eps - 12 / 255) < 1e-9 and settings.seed == 3


def test_protect_options_reach_the_settings(tmp_path, test_engine):
    photos(tmp_path / "a", n=1)
    out = tmp_path / "elsewhere"
    code = cli.main(["protect", str(tmp_path / "a"), "-o", str(out), "--engine", "dwt-chroma", "--strength", "6",
                     "--format", "png", "--quality", "90", "--strip-exif", "--keep-gps", "--no-recursive",
                     "--device", "cpu"])
    assert code == 0 and (out / "p0.png").is_file()
    (s,) = test_engine
    assert s.engine == "dwt-chroma" and abs(s.eps - 6 / 255) < 1e-9 and s.device == "cpu"
    assert s.output.format == "png" and s.output.jpeg_quality == 90
    assert s.output.strip_exif and not s.output.strip_gps


def test_some_files_failing_exits_1_and_lists_them(tmp_path, test_engine, capsys):
    photos(tmp_path / "a", n=1)
    (tmp_path / "a" / "fake.jpg").write_text("just text")
    code = cli.main(["protect", str(tmp_path / "a")])
    captured = capsys.readouterr()
    assert code == 1
    assert "fake.jpg" in captured.out and "not an image" in captured.out
    assert "Traceback" not in captured.err + captured.out


def test_second_run_skips_everything(tmp_path, test_engine, capsys):
    photos(tmp_path / "a")
    assert cli.main(["protect", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert cli.main(["protect", str(tmp_path / "a")]) == 0
    assert len(test_engine) == 1  # no engine needed when everything is already done
    assert "already done" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["protect"],
        ["protect", "MISSING"],
        ["protect", "X", "--strength", "enormous"],
        ["protect", "X", "--engine", "nope"],
        ["protect", "X", "--quality", "0"],
        ["no-such-command"],
        [],
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, test_engine, capsys, argv):
    photos(tmp_path / "X", n=1)
    argv = [str(tmp_path / a) if a in ("X", "MISSING") else a for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()


def test_version_and_help_exit_0(capsys):
    assert cli.main(["--version"]) == 0
    assert "rid-desktop" in capsys.readouterr().out
    assert cli.main(["protect", "--help"]) == 0
    assert "--strength" in capsys.readouterr().out


def test_missing_command_modules_are_skipped(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", ["protect", "does-not-exist-yet"])
    parser = cli.build_parser()
    assert "protect" in parser.format_help()


def test_keyboard_interrupt_is_a_clean_cancel(tmp_path, monkeypatch, capsys):
    photos(tmp_path / "a", n=1)

    def interrupted(settings, **_how):
        raise KeyboardInterrupt

    monkeypatch.setattr(protect, "make_engine", interrupted)
    assert cli.main(["protect", str(tmp_path / "a")]) == 130
    assert "cancelled" in capsys.readouterr().err


def test_protect_end_to_end_with_the_real_default_engine(tmp_path, capsys):
    photos(tmp_path / "a", n=1)
    assert cli.main(["protect", str(tmp_path / "a"), "--device", "cpu"]) == 0
    with Image.open(tmp_path / "a-protected" / "p0.jpg") as out:
        assert out.size == (30, 20)


def _every_command_line() -> list[list[str]]:
    """Every command and sub-command the parser knows, so a new one is covered automatically."""
    import argparse

    lines = []

    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    lines.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(cli.build_parser(), [])
    return lines


COMMAND_LINES = _every_command_line()


def test_every_issue_2_command_is_there():
    assert {"protect", "check", "models", "gui"} <= {line[0] for line in COMMAND_LINES}


@pytest.mark.parametrize("line", COMMAND_LINES, ids=[" ".join(line) for line in COMMAND_LINES])
def test_help_everywhere(line, capsys):
    assert cli.main([*line, "--help"]) == 0
    captured = capsys.readouterr()
    assert "usage:" in captured.out and "Traceback" not in captured.err


def test_forwarding_command_gets_its_options_in_order(monkeypatch):
    from rid_desktop.commands import train

    seen = []
    monkeypatch.setattr(train, "run", lambda args: seen.append(args.train_args) or 0)
    assert cli.main(["train", "--kind", "pixel", "--out", "x.safetensors"]) == 0
    assert cli.main(["train", "x", "--steps", "5"]) == 0
    assert seen == [["--kind", "pixel", "--out", "x.safetensors"], ["x", "--steps", "5"]]
    assert cli.main(["protect", "a.jpg", "--no-such-option"]) == 2


def test_an_unforeseen_os_error_is_one_line_not_a_traceback(tmp_path, test_engine, monkeypatch, capsys):
    photos(tmp_path / "a", n=1)

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "a"))

    monkeypatch.setattr(protect, "plan_batch", refused)
    assert cli.main(["protect", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: Permission denied: {tmp_path / 'a'}"
