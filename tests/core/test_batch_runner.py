"""Planning and running a batch: outputs, manifest, resume, cancel, events (rid_desktop.batch)."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rid_desktop.batch import MANIFEST_NAME, plan_batch, run_batch
from rid_desktop.batch.lock import LOCK_NAME
from rid_desktop.errors import UserError
from rid_desktop.settings import OutputSettings, ProtectionSettings
from tests.conftest import SignEngine

SETTINGS = ProtectionSettings(eps=8 / 255)


def make_tree(root: Path, n=3, size=(24, 32)) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        folder = root / ("sub" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"img {i}.{'png' if i % 3 else 'jpg'}"
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path, quality=95)
        paths.append(path)
    return paths


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_all(plan, engine, **kw):
    events = list(run_batch(plan, engine, **kw))
    return events, events[-1].summary


def test_plan_mirrors_folders_into_a_sibling_protected_folder(tmp_path):
    sources = make_tree(tmp_path / "photos", n=4)
    (tmp_path / "photos" / ".hidden.jpg").write_bytes(b"x")
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    plan = plan_batch([tmp_path / "photos"], SETTINGS)
    out_root = tmp_path / "photos-protected"
    assert plan.output_roots == [out_root]
    assert sorted(i.source for i in plan.items) == sorted(sources)
    for item in plan.items:
        assert item.output == out_root / item.source.relative_to(tmp_path / "photos")
        assert item.state == "pending"
    assert not out_root.exists()  # planning writes nothing


def test_plan_for_single_files_uses_their_folder_protected(tmp_path):
    (src,) = make_tree(tmp_path / "album", n=1)
    plan = plan_batch([src], SETTINGS)
    assert plan.items[0].output == tmp_path / "album-protected" / src.name


def test_plan_no_recursive_stays_at_top_level(tmp_path):
    make_tree(tmp_path / "p", n=4)
    plan = plan_batch([tmp_path / "p"], SETTINGS, recursive=False)
    assert all(item.source.parent == tmp_path / "p" for item in plan.items) and len(plan.items) == 2


def test_plan_refuses_missing_inputs_and_output_equal_to_input(tmp_path):
    make_tree(tmp_path / "p", n=1)
    with pytest.raises(UserError, match="no such file"):
        plan_batch([tmp_path / "nope"], SETTINGS)
    same = ProtectionSettings(output=OutputSettings(output_dir=tmp_path / "p"))
    with pytest.raises(UserError, match="differ"):
        plan_batch([tmp_path / "p"], same)


def test_run_writes_every_output_with_metrics_and_keeps_originals(tmp_path):
    sources = make_tree(tmp_path / "p", n=3)
    before = {p: digest(p) for p in sources}
    plan = plan_batch([tmp_path / "p"], SETTINGS)
    events, summary = run_all(plan, SignEngine())
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert kinds.count("item_done") == 3 and summary.done == 3 and not summary.failed
    for event in (e for e in events if e.kind == "item_done"):
        assert event.output.is_file() and event.total == 3
        assert 0 < event.metrics["linf"] <= 8.0 + 1e-3 and event.metrics["psnr"] > 20
        with Image.open(event.output) as out, Image.open(event.source) as src:
            assert out.size == src.size
    assert {p: digest(p) for p in sources} == before  # originals byte-identical
    manifest = json.loads((tmp_path / "p-protected" / MANIFEST_NAME).read_text())
    entry = manifest["images"]["img 0.jpg"]
    assert entry["status"] == "protected" and entry["input_sha256"] == before[sources[0]]
    assert entry["fingerprint"] == SETTINGS.fingerprint() and entry["settings"]["strength"].startswith("medium")
    assert entry["source"] == "img 0.jpg" and entry["metrics"]["seconds"] >= 0 and entry["timestamp"]


def test_runner_reprojects_an_engine_that_overshoots(tmp_path):
    make_tree(tmp_path / "p", n=1, size=(16, 16))
    plan = plan_batch([tmp_path / "p"], SETTINGS)
    events, _ = run_all(plan, SignEngine(overshoot=3.0))
    (done,) = [e for e in events if e.kind == "item_done"]
    assert done.metrics["linf"] <= 8.0 + 1e-3


def test_rerun_skips_everything_and_settings_change_redoes_it(tmp_path):
    make_tree(tmp_path / "p", n=3)
    first = SignEngine()
    run_all(plan_batch([tmp_path / "p"], SETTINGS), first)
    outputs = {p: p.stat().st_mtime_ns for p in (tmp_path / "p-protected").rglob("*.*") if p.suffix != ".json"}
    plan = plan_batch([tmp_path / "p"], SETTINGS)
    assert [i.state for i in plan.items] == ["already-done"] * 3
    second = SignEngine()
    events, summary = run_all(plan, second)
    assert second.calls == 0 and summary.skipped == 3 and summary.done == 0
    assert [e.kind for e in events].count("item_skipped") == 3
    assert {p: p.stat().st_mtime_ns for p in outputs} == outputs
    stronger = ProtectionSettings(eps=12 / 255)
    assert all(i.state == "pending" for i in plan_batch([tmp_path / "p"], stronger).items)


def test_resume_redoes_an_image_whose_output_was_deleted_or_input_changed(tmp_path):
    sources = make_tree(tmp_path / "p", n=3)
    run_all(plan_batch([tmp_path / "p"], SETTINGS), SignEngine())
    (tmp_path / "p-protected" / "img 0.jpg").unlink()
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(sources[2])
    plan = plan_batch([tmp_path / "p"], SETTINGS)
    states = {i.source.name: i.state for i in plan.items}
    assert states == {"img 0.jpg": "pending", "img 1.png": "already-done", "img 2.png": "pending"}


def test_corrupt_manifest_starts_fresh_with_a_warning(tmp_path):
    make_tree(tmp_path / "p", n=2)
    run_all(plan_batch([tmp_path / "p"], SETTINGS), SignEngine())
    (tmp_path / "p-protected" / MANIFEST_NAME).write_text('{"images": {"a": ')
    plan = plan_batch([tmp_path / "p"], SETTINGS)
    assert plan.warnings and "damaged" in plan.warnings[0]
    assert all(i.state == "pending" for i in plan.items)
    _, summary = run_all(plan, SignEngine())
    assert summary.done == 2
    assert len(json.loads((tmp_path / "p-protected" / MANIFEST_NAME).read_text())["images"]) == 2


def test_bad_file_is_reported_and_the_batch_continues(tmp_path):
    make_tree(tmp_path / "p", n=2)
    (tmp_path / "p" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    events, summary = run_all(plan_batch([tmp_path / "p"], SETTINGS), SignEngine())
    (failed,) = [e for e in events if e.kind == "item_failed"]
    assert failed.source.name == "broken.jpg" and "\n" not in failed.message and failed.message
    assert summary.done == 2 and summary.failed == [(failed.source, failed.message)]
    assert not (tmp_path / "p-protected" / "broken.jpg").exists()
    entry = json.loads((tmp_path / "p-protected" / MANIFEST_NAME).read_text())["images"]["broken.jpg"]
    assert entry["status"] == "failed" and entry["error"] == failed.message


def test_progress_callback_gets_tile_progress(tmp_path):
    make_tree(tmp_path / "p", n=1)
    seen = []
    run_all(plan_batch([tmp_path / "p"], SETTINGS), SignEngine(tiles=4), on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_cancel_between_tiles_stops_and_leaves_no_output_for_that_image(tmp_path):
    make_tree(tmp_path / "p", n=3)
    cancel = threading.Event()
    engine = SignEngine(tiles=5)
    calls_at_cancel = []

    def on_progress(done, total):
        if engine.calls == 2 and done == 2:
            cancel.set()
            calls_at_cancel.append(done)

    events, summary = run_all(plan_batch([tmp_path / "p"], SETTINGS), engine, cancel=cancel, on_progress=on_progress)
    kinds = [e.kind for e in events]
    assert kinds[-2:] == ["cancelled", "finished"] and summary.cancelled
    assert summary.done == 1 and engine.calls == 2
    written = [p for p in (tmp_path / "p-protected").rglob("*") if p.is_file() and p.name not in (MANIFEST_NAME, LOCK_NAME)]
    assert len(written) == 1  # the interrupted image left nothing, not even a temp file
    # resume: the next run does the rest only
    plan = plan_batch([tmp_path / "p"], SETTINGS)
    assert [i.state for i in plan.items].count("already-done") == 1
    again = SignEngine()
    _, summary = run_all(plan, again)
    assert again.calls == 2 and summary.done == 2


def test_memory_is_not_held_between_images(tmp_path):
    """The runner keeps no results: events carry paths and numbers only."""
    make_tree(tmp_path / "p", n=2)
    for event in run_batch(plan_batch([tmp_path / "p"], SETTINGS), SignEngine()):
        for value in vars(event).values():
            assert not isinstance(value, (torch.Tensor, np.ndarray, bytes))


def test_end_to_end_with_the_real_rid_engine(tmp_path):
    from rid_desktop.engines.base import create_engine

    make_tree(tmp_path / "p", n=1, size=(48, 64))
    engine = create_engine("rid", device="cpu")
    events, summary = run_all(plan_batch([tmp_path / "p"], SETTINGS), engine)
    assert summary.done == 1 and not summary.failed
    (done,) = [e for e in events if e.kind == "item_done"]
    assert 0 < done.metrics["linf"] <= 8.0 + 1e-3
    with Image.open(done.output) as out:
        assert out.size == (64, 48)


def test_each_output_is_complete_on_disk_when_its_image_is_reported_done(tmp_path):
    """Results are written as soon as each image is done, never held until the end of the batch."""
    make_tree(tmp_path / "p", n=3)
    manifest_path = tmp_path / "p-protected" / MANIFEST_NAME
    checked = 0
    for event in run_batch(plan_batch([tmp_path / "p"], SETTINGS), SignEngine()):
        if event.kind == "item_done":
            with Image.open(event.output) as out:
                out.load()
            images = json.loads(manifest_path.read_text())["images"]
            key = event.output.relative_to(tmp_path / "p-protected").as_posix()
            assert images[key]["status"] == "protected"
            later = [p for p in (tmp_path / "p-protected").rglob("img *") if p != event.output]
            assert len(later) == checked  # only the images before this one exist yet
            checked += 1
    assert checked == 3
