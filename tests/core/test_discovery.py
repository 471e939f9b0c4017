"""One discovery walk (rid_desktop.io.discovery) for the planner, the GUI scanner and ``check``.

Same photos from every front end (a symlink loop lists a photo once), and every file left out is
reported by kind in the CLI summary and the manifest instead of being dropped silently.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from rid_desktop import cli
from rid_desktop.batch import plan_batch, run_batch
from rid_desktop.commands import protect
from rid_desktop.commands.check import expand_images
from rid_desktop.errors import UserError
from rid_desktop.io.discovery import describe_skipped, discover, scan_folder, skip_kind
from rid_desktop.settings import ProtectionSettings
from tests.conftest import SignEngine

UNSUPPORTED = ["clip.mp4", "trip.MOV", "a.CR2", "b.nef", "c.DNG", "anim.gif", "a.xmp", "notes.txt"]


def mixed_folder(root: Path, make_rgb) -> Path:
    root.mkdir(parents=True)
    Image.fromarray(make_rgb(16, 16)).save(root / "a.jpg")
    (root / "sub").mkdir()
    Image.fromarray(make_rgb(16, 16, seed=1)).save(root / "sub" / "b.png")
    for name in UNSUPPORTED:
        (root / name).write_bytes(b"not handled")
    (root / ".DS_Store").write_bytes(b"hidden: never counted")
    return root


def test_skipped_files_are_counted_by_kind(tmp_path, make_rgb):
    found = scan_folder(mixed_folder(tmp_path / "album", make_rgb))
    assert [p.name for p in found.images] == ["a.jpg", "b.png"]
    assert found.skipped_counts() == {"raw": 3, "video": 2, "gif": 1, "sidecar": 1, "other": 1}
    assert describe_skipped(found.skipped_counts()) == (
        "skipped: 3 RAW files, 2 videos, 1 GIF, 1 sidecar file, 1 other file (not supported)")
    assert describe_skipped({}) == ""
    assert skip_kind(Path("x.HEIC")) is None and skip_kind(Path("x.Cr3")) == "raw"


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this platform")
def test_a_symlink_loop_lists_each_photo_once_for_every_front_end(tmp_path, make_rgb):
    root = tmp_path / "album"
    (root / "deeper").mkdir(parents=True)
    Image.fromarray(make_rgb(16, 16)).save(root / "deeper" / "p.jpg")
    os.symlink(root, root / "deeper" / "loop")  # album/deeper/loop -> album
    os.symlink(root / "deeper", root / "again")  # a second link to a folder already walked
    assert [p.name for p in scan_folder(root).images] == ["p.jpg"]
    assert [p.name for p in discover([root]).images] == ["p.jpg"]
    assert [item.source.name for item in plan_batch([root], ProtectionSettings()).items] == ["p.jpg"]


def test_output_folders_are_never_walked(tmp_path, make_rgb):
    root = tmp_path / "album"
    root.mkdir()
    Image.fromarray(make_rgb(16, 16)).save(root / "a.jpg")
    (root / "old-protected").mkdir()
    Image.fromarray(make_rgb(16, 16)).save(root / "old-protected" / "a.jpg")
    (root / "chosen").mkdir()
    (root / "chosen" / "rid-manifest.json").write_text("{}")
    Image.fromarray(make_rgb(16, 16)).save(root / "chosen" / "a.jpg")
    (root / "locked").mkdir()
    (root / "locked" / ".rid-desktop.lock").write_text("")
    Image.fromarray(make_rgb(16, 16)).save(root / "locked" / "a.jpg")
    # Ours are recognised by our manifest or lock file, never by name: a user's own "*-protected"
    # folder (no manifest) is walked like any other (issue 17).
    assert [p.relative_to(root).as_posix() for p in scan_folder(root).images] == ["a.jpg", "old-protected/a.jpg"]


def test_cli_summary_and_manifest_report_the_skipped_files(tmp_path, make_rgb, monkeypatch, capsys):
    monkeypatch.setattr(protect, "make_engine", lambda settings, **how: SignEngine())
    mixed_folder(tmp_path / "album", make_rgb)
    assert cli.main(["protect", str(tmp_path / "album")]) == 0
    out = capsys.readouterr().out
    assert "skipped: 3 RAW files, 2 videos, 1 GIF, 1 sidecar file, 1 other file (not supported)" in out
    manifest = json.loads((tmp_path / "album-protected" / "rid-manifest.json").read_text())
    assert manifest["skipped"] == {"raw": 3, "video": 2, "gif": 1, "sidecar": 1, "other": 1}
    assert len(manifest["images"]) == 2


def test_the_batch_summary_carries_the_counts_for_the_gui(tmp_path, make_rgb):
    plan = plan_batch([mixed_folder(tmp_path / "album", make_rgb)], ProtectionSettings())
    assert plan.describe_skipped().startswith("skipped: 3 RAW files, 2 videos")
    summary = list(run_batch(plan, SignEngine()))[-1].summary
    assert summary.unsupported == {"raw": 3, "video": 2, "gif": 1, "sidecar": 1, "other": 1}
    assert summary.done == 2


def test_a_folder_of_only_unsupported_files_is_one_line_naming_them(tmp_path, capsys):
    (tmp_path / "gifs").mkdir()
    (tmp_path / "gifs" / "party.gif").write_bytes(b"GIF89a")
    assert cli.main(["protect", str(tmp_path / "gifs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "skipped: 1 GIF (not supported)" in err


def test_check_uses_the_same_walk(tmp_path, make_rgb, capsys):
    root = mixed_folder(tmp_path / "album", make_rgb)
    assert [p.name for p in expand_images([root])] == ["a.jpg"]  # not recursive
    assert "skipped: 3 RAW files" in capsys.readouterr().err
    with pytest.raises(UserError, match="1 GIF"):
        (tmp_path / "g").mkdir()
        (tmp_path / "g" / "x.gif").write_bytes(b"GIF89a")
        expand_images([tmp_path / "g"])
