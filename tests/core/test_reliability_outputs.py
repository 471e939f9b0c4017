"""Issue 9, outputs: unusable output folders, output inside input, full disk — nothing partial, originals intact."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rid_desktop.batch import MANIFEST_NAME, plan_batch, run_batch
from rid_desktop.batch.lock import LOCK_NAME
from rid_desktop.errors import UserError
from rid_desktop.io import writer
from rid_desktop.settings import OutputSettings, ProtectionSettings
from tests.conftest import SignEngine


def album(folder: Path, n=3) -> dict[Path, str]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    hashes = {}
    for i in range(n):
        path = folder / f"p{i}.jpg"
        Image.fromarray(rng.integers(0, 256, (20, 28, 3), dtype=np.uint8)).save(path, quality=95)
        hashes[path] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def unchanged(hashes: dict[Path, str]) -> bool:
    return all(hashlib.sha256(p.read_bytes()).hexdigest() == h for p, h in hashes.items())


def test_missing_output_folder_is_created(tmp_path):
    hashes = album(tmp_path / "in")
    target = tmp_path / "does" / "not" / "exist"
    settings = ProtectionSettings(output=OutputSettings(output_dir=target))
    summary = list(run_batch(plan_batch([tmp_path / "in"], settings), SignEngine()))[-1].summary
    assert summary.done == 3 and sorted(p.name for p in target.glob("*.jpg")) == ["p0.jpg", "p1.jpg", "p2.jpg"]
    assert unchanged(hashes)


def test_read_only_output_folder_is_refused_before_any_work(tmp_path, monkeypatch):
    album(tmp_path / "in")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    real_access = os.access
    if real_access(locked, os.W_OK):  # root ignores permissions: simulate what a normal user sees
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == locked else real_access(p, mode))
    try:
        with pytest.raises(UserError, match="not writable"):
            plan_batch([tmp_path / "in"], ProtectionSettings(output=OutputSettings(output_dir=locked)))
    finally:
        locked.chmod(0o755)


def test_output_path_that_is_a_file_is_refused(tmp_path):
    album(tmp_path / "in", n=1)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        plan_batch([tmp_path / "in"], ProtectionSettings(output=OutputSettings(output_dir=tmp_path / "file")))


def test_write_permission_lost_mid_batch_fails_items_cleanly(tmp_path, monkeypatch):
    hashes = album(tmp_path / "in")
    plan = plan_batch([tmp_path / "in"], ProtectionSettings())

    def denied(path, flags, mode=0o777):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(writer.os, "open", denied)
    summary = list(run_batch(plan, SignEngine()))[-1].summary
    assert summary.done == 0 and len(summary.failed) == 3
    assert all("permission denied" in reason for _, reason in summary.failed)
    assert unchanged(hashes)


def test_output_inside_input_is_never_re_protected(tmp_path):
    hashes = album(tmp_path / "in")
    inside = tmp_path / "in" / "out"
    settings = ProtectionSettings(output=OutputSettings(output_dir=inside))
    assert list(run_batch(plan_batch([tmp_path / "in"], settings), SignEngine()))[-1].summary.done == 3
    # a second run over the same input must not pick up in/out/*.jpg, nor an old output folder moved inside
    # (recognised by its manifest; a folder merely *named* *-protected is the user's: test_data_safety.py)
    (tmp_path / "in" / "old-protected").mkdir()
    (tmp_path / "in" / "old-protected" / "x.jpg").write_bytes((tmp_path / "in" / "p0.jpg").read_bytes())
    (tmp_path / "in" / "old-protected" / MANIFEST_NAME).write_text('{"images": {}}')
    for settings_run in (settings, ProtectionSettings(eps=4 / 255, output=OutputSettings(output_dir=inside))):
        plan = plan_batch([tmp_path / "in"], settings_run)
        assert sorted(i.source.name for i in plan.items) == ["p0.jpg", "p1.jpg", "p2.jpg"]
    assert unchanged(hashes)


def test_default_output_folder_inside_a_walked_tree_is_skipped(tmp_path):
    album(tmp_path / "root" / "trip")
    list(run_batch(plan_batch([tmp_path / "root" / "trip"], ProtectionSettings()), SignEngine()))
    assert (tmp_path / "root" / "trip-protected").is_dir()
    plan = plan_batch([tmp_path / "root"], ProtectionSettings())  # now walk the parent holding both
    assert all("protected" not in str(i.source) for i in plan.items) and len(plan.items) == 3


def test_disk_full_leaves_no_partial_file_and_a_clear_error(tmp_path, monkeypatch):
    hashes = album(tmp_path / "in")
    plan = plan_batch([tmp_path / "in"], ProtectionSettings())
    real_write = os.write
    state = {"writes": 0}

    def fill_up(fd, data):
        state["writes"] += 1
        if state["writes"] >= 3:  # first output and its manifest fit, then the disk is full
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(writer.os, "write", fill_up)
    events = list(run_batch(plan, SignEngine()))
    summary = events[-1].summary
    assert summary.done == 1 and len(summary.failed) == 2
    assert all(reason.startswith("disk full") for _, reason in summary.failed)
    out = tmp_path / "in-protected"
    files = sorted(p.name for p in out.iterdir() if p.name != LOCK_NAME)
    assert files == sorted([MANIFEST_NAME, "p0.jpg"])  # no partial outputs, no temp files
    Image.open(out / "p0.jpg").load()
    assert unchanged(hashes)


def test_originals_are_never_opened_for_writing(tmp_path, monkeypatch):
    import builtins

    hashes = album(tmp_path / "in")
    real_open = builtins.open
    sources = {str(p) for p in hashes}

    def watch(file, mode="r", *args, **kwargs):
        if str(file) in sources:
            assert set(mode) <= set("rb"), f"original opened with mode {mode}"
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", watch)
    real_os_open = os.open

    def watch_os(path, flags, *args, **kwargs):
        assert str(path) not in sources or flags & (os.O_WRONLY | os.O_RDWR) == 0
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", watch_os)
    assert list(run_batch(plan_batch([tmp_path / "in"], ProtectionSettings()), SignEngine()))[-1].summary.done == 3
    assert unchanged(hashes)


def test_files_in_a_chosen_output_folder_that_we_did_not_write_are_never_overwritten(tmp_path):
    hashes = album(tmp_path / "downloads")
    originals = album(tmp_path / "pictures")  # someone's photos, same names, chosen with -o by mistake
    settings = ProtectionSettings(output=OutputSettings(output_dir=tmp_path / "pictures"))
    with pytest.raises(UserError, match="did not write"):
        plan_batch([tmp_path / "downloads"], settings)
    assert unchanged(hashes) and unchanged(originals)
    assert not (tmp_path / "pictures" / MANIFEST_NAME).exists()


def test_an_existing_folder_with_other_names_or_our_manifest_is_used(tmp_path):
    album(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("unrelated")
    settings = ProtectionSettings(output=OutputSettings(output_dir=out))
    assert list(run_batch(plan_batch([tmp_path / "in"], settings), SignEngine()))[-1].summary.done == 3
    (out / "p0.jpg").unlink()  # our own outputs, in a folder with our manifest, can be redone
    again = ProtectionSettings(eps=4 / 255, output=OutputSettings(output_dir=out))
    assert list(run_batch(plan_batch([tmp_path / "in"], again), SignEngine()))[-1].summary.done == 3
    assert (out / "notes.txt").read_text() == "unrelated"


def test_the_manifest_exists_before_the_first_output_is_written(tmp_path, monkeypatch):
    """So a kill between an output and its manifest entry never makes our own output look foreign."""
    from rid_desktop.batch import runner

    album(tmp_path / "in", n=2)
    real_save = runner.save_protected
    seen = []

    def save(loaded, protected, dst, output, **options):
        seen.append((tmp_path / "in-protected" / MANIFEST_NAME).is_file())
        return real_save(loaded, protected, dst, output, **options)

    monkeypatch.setattr(runner, "save_protected", save)
    assert list(run_batch(plan_batch([tmp_path / "in"], ProtectionSettings()), SignEngine()))[-1].summary.done == 2
    assert seen == [True, True]
