"""Issue 17: random sequences of what happens to a real photo folder, and the batch's promises after each.

Operations: add a photo, add a same-stem photo in another format, delete, rename, corrupt the
manifest, drop the user's own file where an output would go, kill a run mid-write (or between an
output and its manifest entry), rerun, and a second run starting while the first one is running.

Invariants: no original ever changes; every output decodes; no temporary file survives a completed
run; the manifest stays valid (and every protected entry matches its output byte for byte);
nothing is written outside the output folder; a completed run fails only photos whose output name
is taken by someone else's file, never with an unexpected error.

A short fixed-seed run lives here (a few seconds, a tiny test engine); ``FUZZ_EXAMPLES=500`` runs
a longer one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from rid_desktop.batch import MANIFEST_NAME, plan_batch, run_batch
from rid_desktop.batch import manifest as manifest_module
from rid_desktop.batch.lock import LOCK_NAME, FolderBusyError
from rid_desktop.errors import UserError
from rid_desktop.io import writer
from rid_desktop.settings import OutputSettings, ProtectionSettings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}
OPERATIONS = ("add", "add_same_stem", "delete", "rename", "corrupt_manifest", "foreign_file",
              "kill_mid_write", "kill_before_manifest", "rerun", "concurrent", "change_settings")


class SignEngine:
    name = "test-sign"

    def protect(self, image, eps, *, seed=0, progress=None):
        if progress:
            progress(1, 1)
        return (image + eps * torch.sign(torch.sin(image * 40 + seed))).clamp(0, 1)


class Killed(BaseException):
    """Stands in for SIGKILL: nothing of the run's own clean-up code runs after it."""


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Album:
    """The model of the world: the input folder as the user left it, and files the user owns in the output."""

    def __init__(self, root: Path):
        self.input = root / "in"
        self.output = root / "out"
        self.input.mkdir()
        self.originals: dict[Path, str] = {}  # input files and their hashes
        self.foreign: dict[Path, str] = {}  # the user's own files inside the output folder
        self.counter = 0
        self.eps = 8 / 255

    def settings(self) -> ProtectionSettings:
        return ProtectionSettings(eps=self.eps, output=OutputSettings(output_dir=self.output))

    def write_photo(self, path: Path, seed: int) -> None:
        rng = np.random.default_rng(seed)
        pixels = rng.integers(0, 256, (int(rng.integers(4, 14)), int(rng.integers(4, 14)), 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, FORMATS[path.suffix])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())
        self.originals[path] = sha(path)

    # --- operations -------------------------------------------------------------------------------
    def add(self, seed: int) -> None:
        self.counter += 1
        suffix = list(FORMATS)[seed % len(FORMATS)]
        folder = self.input / "sub" if seed % 3 == 0 else self.input
        self.write_photo(folder / f"p{self.counter}{suffix}", seed)

    def add_same_stem(self, seed: int) -> None:
        if not self.originals:
            return self.add(seed)
        base = sorted(self.originals)[seed % len(self.originals)]
        for suffix in FORMATS:
            candidate = base.with_suffix(suffix)
            if candidate not in self.originals:
                return self.write_photo(candidate, seed)

    def delete(self, seed: int) -> None:
        if self.originals:
            victim = sorted(self.originals)[seed % len(self.originals)]
            victim.unlink()
            del self.originals[victim]

    def rename(self, seed: int) -> None:
        if self.originals:
            self.counter += 1
            source = sorted(self.originals)[seed % len(self.originals)]
            target = source.with_name(f"r{self.counter}{source.suffix}")
            os.replace(source, target)
            self.originals[target] = self.originals.pop(source)

    def corrupt_manifest(self, seed: int) -> None:
        path = self.output / MANIFEST_NAME
        if path.exists():
            junk = [b"\xff\xfe", b"[" * 5000, b'{"images": ', b'{"images": []}', b""][seed % 5]
            path.write_bytes(junk)

    def foreign_file(self, seed: int) -> None:
        """The user drops a file of their own at a name an output will (or did) take."""
        if not self.originals:
            return
        source = sorted(self.originals)[seed % len(self.originals)]
        target = self.output / source.relative_to(self.input)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"my own notes, not a photo " + bytes([seed % 256]))
        self.foreign[target] = sha(target)

    def change_settings(self, seed: int) -> None:
        self.eps = (4 + seed % 9) / 255

    def run(self) -> list | None:
        """A complete run; None when it is refused up front (a folder we never used holds the user's files)."""
        try:
            plan = plan_batch([self.input], self.settings())
        except UserError as exc:
            assert "did not write" in str(exc) and self.foreign and not (self.output / MANIFEST_NAME).exists()
            return None
        return list(run_batch(plan, SignEngine()))

    def rerun(self, seed: int) -> None:
        events = self.run()
        if events is None:
            self.check_untouched()
        else:
            self.check(events, completed=True)

    def kill_mid_write(self, seed: int, monkeypatch) -> None:
        """Killed while writing an output: a torn temp file stays behind, as after SIGKILL."""
        calls = {"n": 0}
        real = writer._write_all

        def dying_write(fd, data):
            calls["n"] += 1
            if calls["n"] > seed % 3:
                os.write(fd, data[: len(data) // 2])
                raise Killed()
            return real(fd, data)

        self._run_until_killed(monkeypatch, writer, "_write_all", dying_write)
        folder = self.output
        if folder.is_dir():
            (folder / f".torn.png.{seed % 1000:04d}abcd{writer.TEMP_SUFFIX}").write_bytes(b"\x89PNG torn")

    def kill_before_manifest(self, seed: int, monkeypatch) -> None:
        """Killed after an output was renamed into place, before its manifest entry was saved."""
        calls = {"n": 0}
        real = manifest_module.Manifest.save

        def dying_save(self_):
            calls["n"] += 1
            if calls["n"] > 1 + seed % 3:
                raise Killed()
            return real(self_)

        self._run_until_killed(monkeypatch, manifest_module.Manifest, "save", dying_save)

    def _run_until_killed(self, monkeypatch, owner, name, replacement) -> None:
        with monkeypatch.context() as patch:
            patch.setattr(owner, name, replacement)
            try:
                plan = plan_batch([self.input], self.settings())
            except UserError:
                return  # refused up front: nothing to kill
            try:
                events = run_batch(plan, SignEngine())
                for _ in events:
                    pass
            except Killed:
                events.close()  # the OS would drop the lock of a killed process
        self.check_outputs_decode(allow_temp=True)

    def concurrent(self, seed: int) -> None:
        try:
            plan = plan_batch([self.input], self.settings())
        except UserError:
            return  # refused up front (see run)
        if not plan.output_roots:
            return  # no photos: neither run writes anything, so neither locks
        first = run_batch(plan, SignEngine())
        second = run_batch(plan_batch([self.input], self.settings()), SignEngine())
        assert next(first).kind == "started"
        with pytest.raises(FolderBusyError):
            next(second)
        self.check(list(first), completed=True)

    # --- invariants ---------------------------------------------------------------------------------
    def check(self, events: list, *, completed: bool) -> None:
        summary = events[-1].summary
        used = bool(summary.output_dirs)  # a run with no photos never touches the output folder
        for path, reason in summary.failed:
            assert "not written by RID Desktop" in reason, (path, reason)
        self.check_untouched()
        self.check_outputs_decode(allow_temp=not (completed and used))
        if completed and used:
            self.check_manifest()

    def check_untouched(self) -> None:
        on_disk = {p: sha(p) for p in self.input.rglob("*") if p.is_file()}
        assert on_disk == self.originals  # nothing changed, added or removed in the input folder
        for path, digest in self.foreign.items():
            assert sha(path) == digest
        outside = {p.name for p in self.input.parent.iterdir()}
        assert outside <= {"in", "out"}, outside

    def check_outputs_decode(self, *, allow_temp: bool) -> None:
        if not self.output.is_dir():
            return
        for path in self.output.rglob("*"):
            if not path.is_file() or path in self.foreign:
                continue
            if path.name.endswith(writer.TEMP_SUFFIX):
                assert allow_temp, f"temporary file left after a completed run: {path}"
                continue
            if path.name in (MANIFEST_NAME, MANIFEST_NAME + ".bak", LOCK_NAME):
                continue
            with Image.open(path) as image:
                image.load()

    def check_manifest(self) -> None:
        path = self.output / MANIFEST_NAME
        if not path.exists():
            return
        data = json.loads(path.read_bytes().decode("utf-8"))
        assert isinstance(data["images"], dict)
        for key, entry in data["images"].items():
            if entry["status"] == "protected":
                output = self.output / key
                assert output.is_file() and sha(output) == entry["output_sha256"], key
                assert output not in self.foreign


operation = st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 10_000))


@settings(derandomize=True, max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=8))
def test_random_histories_never_lose_or_corrupt_anything(monkeypatch, history):
    with tempfile.TemporaryDirectory() as scratch:
        album = Album(Path(scratch))
        album.add(1)
        for name, seed in history:
            step = getattr(album, name)
            if name.startswith("kill"):
                step(seed, monkeypatch)
            else:
                step(seed)
        album.rerun(0)  # whatever happened, one complete run leaves everything in order
        final = album.run()
        if final is None:
            album.check_untouched()
            return
        assert final[-1].summary.done == 0  # nothing left to do: every photo is done or blocked by a user's file
        album.check(final, completed=True)
