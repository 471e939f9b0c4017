"""Issue 17, "nothing lost, ever": originals, outputs and the manifest survive every hostile sequence.

Each test reproduces one case of the adversarial pass (it failed before the fix) with a tiny test
engine, so the file runs in a couple of seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rid_desktop.batch import MANIFEST_NAME, plan_batch, run_batch
from rid_desktop.batch.lock import FolderBusyError
from rid_desktop.batch.manifest import Manifest
from rid_desktop.io import writer
from rid_desktop.settings import OutputSettings, ProtectionSettings

SETTINGS = ProtectionSettings(eps=8 / 255)


class SignEngine:
    name = "test-sign"

    def protect(self, image, eps, *, seed=0, progress=None):
        return (image + eps * torch.sign(torch.sin(image * 40 + seed))).clamp(0, 1)


class NaNEngine:
    """What a model with NaN weights returns."""

    name = "test-nan"

    def protect(self, image, eps, *, seed=0, progress=None):
        return image * float("nan")


def photo(path: Path, seed: int = 0, size=(20, 28)) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return sha(path)


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run(inputs, settings=SETTINGS, engine=None):
    events = list(run_batch(plan_batch(list(inputs), settings), engine or SignEngine()))
    return events[-1].summary


def with_output(folder: Path, **changes) -> ProtectionSettings:
    return ProtectionSettings(eps=SETTINGS.eps, output=OutputSettings(output_dir=folder, **changes))


# --- 1. an original in the output folder is never replaced -----------------------------------------
def test_a_users_original_in_an_output_folder_we_used_is_never_replaced(tmp_path):
    original = photo(tmp_path / "B" / "IMG_0001.jpg", seed=1)  # the user's own photo
    photo(tmp_path / "A" / "other.jpg", seed=2)
    assert run([tmp_path / "A"], with_output(tmp_path / "B")).done == 1  # B now holds our manifest
    photo(tmp_path / "C" / "IMG_0001.jpg", seed=3)
    photo(tmp_path / "C" / "new.jpg", seed=4)
    summary = run([tmp_path / "C"], with_output(tmp_path / "B"))
    assert sha(tmp_path / "B" / "IMG_0001.jpg") == original
    assert summary.done == 1 and len(summary.failed) == 1
    (path, reason), = summary.failed
    assert path.name == "IMG_0001.jpg" and "not written by RID Desktop" in reason and "\n" not in reason


def test_an_original_in_an_output_subfolder_of_the_input_is_never_replaced(tmp_path):
    photo(tmp_path / "in" / "a.jpg", seed=1)
    original = photo(tmp_path / "in" / "sub" / "b.jpg", seed=2)  # the user's photo, in the chosen -o
    assert run([tmp_path / "in"], with_output(tmp_path / "in" / "sub")).done == 1
    photo(tmp_path / "in" / "b.jpg", seed=3)
    summary = run([tmp_path / "in"], with_output(tmp_path / "in" / "sub"))
    assert sha(tmp_path / "in" / "sub" / "b.jpg") == original and len(summary.failed) == 1


def test_our_own_outputs_are_still_replaced_when_settings_change(tmp_path):
    photo(tmp_path / "p" / "a.png")
    run([tmp_path / "p"])
    first = sha(tmp_path / "p-protected" / "a.png")
    summary = run([tmp_path / "p"], ProtectionSettings(eps=4 / 255))
    assert summary.done == 1 and not summary.failed and sha(tmp_path / "p-protected" / "a.png") != first


def test_an_output_edited_by_the_user_after_we_wrote_it_is_not_replaced(tmp_path):
    photo(tmp_path / "p" / "a.png")
    run([tmp_path / "p"])
    edited = photo(tmp_path / "p-protected" / "a.png", seed=9)  # the user retouched our output
    summary = run([tmp_path / "p"], ProtectionSettings(eps=4 / 255))
    assert sha(tmp_path / "p-protected" / "a.png") == edited and len(summary.failed) == 1


def test_a_file_appearing_at_the_output_path_during_the_run_is_not_replaced(tmp_path, monkeypatch):
    photo(tmp_path / "p" / "a.png")
    plan = plan_batch([tmp_path / "p"], SETTINGS)
    real_encode = writer.encode_image

    def someone_writes_first(*args, **kwargs):
        data = real_encode(*args, **kwargs)
        (tmp_path / "p-protected" / "a.png").write_bytes(b"someone else's file")
        return data

    monkeypatch.setattr(writer, "encode_image", someone_writes_first)
    summary = list(run_batch(plan, SignEngine()))[-1].summary
    assert (tmp_path / "p-protected" / "a.png").read_bytes() == b"someone else's file" and len(summary.failed) == 1


# --- 2. names that are not valid UTF-8 -------------------------------------------------------------
@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="only Linux file systems take non-UTF-8 names")
def test_a_file_name_that_is_not_utf8_is_protected_recorded_and_resumed(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    raw = os.path.join(os.fsencode(folder), b"caf\xe9 \xff.png")
    pixels = np.random.default_rng(0).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    with open(raw, "wb") as handle:
        Image.fromarray(pixels).save(handle, format="PNG")
    photo(folder / "plain.png", seed=1)
    summary = run([folder])
    assert summary.done == 2 and not summary.failed
    manifest_bytes = (tmp_path / "p-protected" / MANIFEST_NAME).read_bytes()
    manifest_bytes.decode("utf-8")  # still valid UTF-8 JSON
    assert len(json.loads(manifest_bytes)["images"]) == 2
    again = run([folder])
    assert again.skipped == 2 and again.done == 0


def test_a_manifest_that_cannot_be_saved_never_stops_the_batch(tmp_path, monkeypatch):
    for i in range(2):
        photo(tmp_path / "p" / f"{i}.png", seed=i)

    def broken_save(self):
        raise UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed")

    monkeypatch.setattr(Manifest, "save", broken_save)
    summary = run([tmp_path / "p"])
    assert summary.done == 2 and not summary.failed


# --- 3. damaged or deleted manifest ----------------------------------------------------------------
@pytest.mark.parametrize(
    "damage", [b"\xff\xfe\x00garbage", b"[" * 200_000, b'{"images": ' * 50_000, b'{"images": {"a": 1}}'],
    ids=["not-utf8", "deep-list", "deep-object", "wrong-shape"],
)
def test_a_damaged_manifest_warns_keeps_a_backup_and_starts_fresh(tmp_path, damage):
    photo(tmp_path / "p" / "a.png")
    run([tmp_path / "p"])
    manifest = tmp_path / "p-protected" / MANIFEST_NAME
    manifest.write_bytes(damage)
    plan = plan_batch([tmp_path / "p"], SETTINGS)
    assert plan.warnings and "damaged" in plan.warnings[0] and "\n" not in plan.warnings[0]
    summary = list(run_batch(plan, SignEngine()))[-1].summary
    assert summary.done == 1 and not summary.failed  # our output is adopted, not refused
    assert (tmp_path / "p-protected" / (MANIFEST_NAME + ".bak")).read_bytes() == damage
    assert len(json.loads(manifest.read_text("utf-8"))["images"]) == 1


def test_a_deleted_manifest_readopts_outputs_that_match_what_we_would_write(tmp_path):
    seeded = ProtectionSettings(eps=8 / 255, seed=7)  # --seed: the same bytes again
    for i in range(3):
        photo(tmp_path / "p" / f"{i}.png", seed=i)
    run([tmp_path / "p"], settings=seeded)
    outputs = {p.name: sha(p) for p in (tmp_path / "p-protected").glob("*.png")}
    (tmp_path / "p-protected" / MANIFEST_NAME).unlink()
    summary = run([tmp_path / "p"], settings=seeded)  # used to be refused: "already holds files ... did not write"
    assert summary.done == 3 and not summary.failed
    assert {p.name: sha(p) for p in (tmp_path / "p-protected").glob("*.png")} == outputs
    assert run([tmp_path / "p"], settings=seeded).skipped == 3


def test_a_deleted_manifest_readopts_protected_copies_made_with_other_keys(tmp_path):
    """Default runs draw fresh keys, so a re-run writes other bytes: a file that is the source photo
    within the budget is still recognised as our protected copy and replaced; a different picture is not."""
    for i in range(3):
        photo(tmp_path / "p" / f"{i}.png", seed=i)
    run([tmp_path / "p"])
    (tmp_path / "p-protected" / MANIFEST_NAME).unlink()
    photo(tmp_path / "p-protected" / "2.png", seed=99)  # the user's own picture now sits at one output path
    users = sha(tmp_path / "p-protected" / "2.png")
    summary = run([tmp_path / "p"])
    assert summary.done == 2 and [p.name for p, _ in summary.failed] == ["2.png"]
    assert sha(tmp_path / "p-protected" / "2.png") == users


def test_an_output_written_just_before_a_kill_is_adopted_on_resume(tmp_path):
    photo(tmp_path / "p" / "a.png")
    run([tmp_path / "p"])
    manifest = tmp_path / "p-protected" / MANIFEST_NAME
    data = json.loads(manifest.read_text())
    data["images"] = {}  # the kill came after the output's rename, before its manifest entry
    manifest.write_text(json.dumps(data))
    summary = run([tmp_path / "p"])
    assert summary.done == 1 and not summary.failed
    entry = json.loads(manifest.read_text())["images"]["a.png"]
    assert entry["output_sha256"] == sha(tmp_path / "p-protected" / "a.png")


# --- 4. NaN / Inf results ------------------------------------------------------------------------
def test_an_engine_returning_nan_fails_the_photo_and_writes_nothing(tmp_path):
    photo(tmp_path / "p" / "a.png")
    summary = run([tmp_path / "p"], engine=NaNEngine())
    assert summary.done == 0 and len(summary.failed) == 1
    assert "NaN" in summary.failed[0][1] and not (tmp_path / "p-protected" / "a.png").exists()
    entry = json.loads((tmp_path / "p-protected" / MANIFEST_NAME).read_text())["images"]["a.png"]
    assert entry["status"] == "failed"


# --- 5. concurrent runs ------------------------------------------------------------------------------
def test_a_second_run_into_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    for i in range(3):
        photo(tmp_path / "x" / f"x{i}.png", seed=i)
        photo(tmp_path / "y" / f"y{i}.png", seed=10 + i)
    out = tmp_path / "out"
    first = run_batch(plan_batch([tmp_path / "x"], with_output(out)), SignEngine())
    second = run_batch(plan_batch([tmp_path / "y"], with_output(out)), SignEngine())
    assert next(first).kind == "started"
    with pytest.raises(FolderBusyError, match="another RID Desktop run"):
        next(second)
    assert list(first)[-1].summary.done == 3
    assert run([tmp_path / "y"], with_output(out)).done == 3  # afterwards it runs, and merges
    assert len(json.loads((out / MANIFEST_NAME).read_text())["images"]) == 6


def test_an_abandoned_run_releases_its_folder(tmp_path):
    photo(tmp_path / "p" / "a.png")
    first = run_batch(plan_batch([tmp_path / "p"], SETTINGS), SignEngine())
    next(first)
    first.close()  # the GUI dropped the generator
    assert run([tmp_path / "p"]).done == 1


# --- 9. output names stay stable ------------------------------------------------------------------
def test_adding_a_same_stem_file_never_renames_or_replaces_an_earlier_output(tmp_path):
    photo(tmp_path / "p" / "a.jpg", seed=1)
    run([tmp_path / "p"])
    protected = sha(tmp_path / "p-protected" / "a.jpg")
    Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(tmp_path / "p" / "a.heic")  # sorts first
    summary = run([tmp_path / "p"])
    assert summary.skipped == 1 and summary.done == 1 and not summary.failed
    assert sha(tmp_path / "p-protected" / "a.jpg") == protected
    with Image.open(tmp_path / "p-protected" / "a (2).jpg") as heic_copy:
        assert heic_copy.size == (16, 16)


def test_a_later_same_stem_file_gets_the_numbered_name_even_when_it_sorts_last(tmp_path):
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(tmp_path / "a.heic")
    (tmp_path / "p").mkdir()
    os.replace(tmp_path / "a.heic", tmp_path / "p" / "a.heic")
    run([tmp_path / "p"])
    heic_copy = sha(tmp_path / "p-protected" / "a.jpg")
    photo(tmp_path / "p" / "a.jpg", seed=1)
    run([tmp_path / "p"])
    assert sha(tmp_path / "p-protected" / "a.jpg") == heic_copy  # the HEIC keeps its name
    assert (tmp_path / "p-protected" / "a (2).jpg").is_file()


def test_in_one_run_the_file_whose_suffix_matches_keeps_the_plain_name(tmp_path):
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(tmp_path / "a.heic")
    (tmp_path / "p").mkdir()
    os.replace(tmp_path / "a.heic", tmp_path / "p" / "a.heic")
    photo(tmp_path / "p" / "a.jpg", seed=1, size=(20, 28))
    run([tmp_path / "p"])
    with Image.open(tmp_path / "p-protected" / "a.jpg") as same_name:
        assert same_name.size == (28, 20)


# --- 12. temp files -------------------------------------------------------------------------------
def test_a_stale_manifest_temp_file_is_removed_even_when_everything_is_done(tmp_path):
    for i in range(2):
        photo(tmp_path / "p" / "sub" / f"{i}.png", seed=i)  # outputs live in a sub-folder only
    run([tmp_path / "p"])
    stale = tmp_path / "p-protected" / f".{MANIFEST_NAME}.0badc0de{writer.TEMP_SUFFIX}"
    stale.write_bytes(b"{")
    assert run([tmp_path / "p"]).skipped == 2
    assert not stale.exists()


def test_a_255_byte_output_name_can_be_written(tmp_path):
    name = "é" * 123 + ".png"  # 250 bytes in UTF-8: the old temp name (+18 bytes) was too long
    assert len(name.encode()) <= 255
    photo(tmp_path / "p" / name)
    summary = run([tmp_path / "p"])
    assert summary.done == 1 and not summary.failed
    assert (tmp_path / "p-protected" / name).is_file()
    assert not [p for p in (tmp_path / "p-protected").iterdir() if p.name.endswith(writer.TEMP_SUFFIX)]


def test_a_user_folder_merely_named_protected_is_walked_not_skipped(tmp_path):
    photo(tmp_path / "p" / "Wedding-protected" / "kiss.png")
    photo(tmp_path / "p" / "a.png", seed=1)
    assert run([tmp_path / "p"]).done == 2
    assert (tmp_path / "p-protected" / "Wedding-protected" / "kiss.png").is_file()
    again = run([tmp_path / "p"])  # our output folder, beside the input, is still never an input
    assert again.skipped == 2 and again.done == 0


def test_our_output_folder_inside_the_input_stays_skipped_after_its_manifest_is_deleted(tmp_path):
    photo(tmp_path / "p" / "a.png")
    settings = with_output(tmp_path / "p" / "out")
    assert run([tmp_path / "p"], settings).done == 1
    (tmp_path / "p" / "out" / MANIFEST_NAME).unlink()
    plan = plan_batch([tmp_path / "p"], ProtectionSettings())  # default output: p-protected
    assert [item.source.name for item in plan.items] == ["a.png"]


def test_a_file_system_without_locks_still_runs(tmp_path, monkeypatch):
    """A network share answering ENOLCK must not look like a busy folder."""
    import errno

    from rid_desktop.batch import lock

    def no_locks(fd):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(lock, "_lock", no_locks)
    photo(tmp_path / "p" / "a.png")
    assert run([tmp_path / "p"]).done == 1


def test_a_failed_retry_keeps_the_record_that_the_earlier_output_is_ours(tmp_path, monkeypatch):
    photo(tmp_path / "p" / "a.png", seed=1)
    run([tmp_path / "p"])
    from rid_desktop.batch import runner

    def unreadable(source):
        raise runner.UnsupportedImageError("file changed while being read; run again to protect the new version")

    with monkeypatch.context() as patch:  # a transient failure on the next run is recorded...
        patch.setattr(runner, "_read_stable", unreadable)
        assert len(run([tmp_path / "p"], ProtectionSettings(eps=4 / 255)).failed) == 1
    photo(tmp_path / "p" / "a.png", seed=2)  # ...then the photo changes: our old output may be replaced
    summary = run([tmp_path / "p"], ProtectionSettings(eps=4 / 255))
    assert summary.done == 1 and not summary.failed
