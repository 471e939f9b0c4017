"""The GUI's folder scanner walks with the core's discovery: loops once, skipped files counted by kind."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from ui.models.scanner import FolderScanner


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this platform")
def test_scanner_lists_a_photo_in_a_symlink_loop_once_and_counts_what_it_skipped(qtbot, tmp_path, make_rgb):
    root = tmp_path / "album"
    (root / "deeper").mkdir(parents=True)
    Image.fromarray(make_rgb(16, 16)).save(root / "deeper" / "p.jpg")
    os.symlink(root, root / "deeper" / "loop")
    for name in ("clip.mp4", "movie.mov", "raw.CR2", "raw.NEF", "party.gif"):
        (root / name).write_bytes(b"x")
    scanner = FolderScanner()
    found, skipped = [], []
    scanner.found.connect(lambda source, paths: found.extend(paths))
    scanner.skipped.connect(lambda source, counts: skipped.append(counts))
    with qtbot.waitSignal(scanner.done, timeout=10000) as done:
        scanner.scan(root)
    assert [p.name for p in found] == ["p.jpg"] and done.args == [str(root), 1]
    assert skipped == [{"video": 2, "raw": 2, "gif": 1}]
    assert scanner.skipped_counts == {str(root): {"video": 2, "raw": 2, "gif": 1}}
    assert scanner.skipped_summary() == "skipped: 2 videos, 2 RAW files, 1 GIF (not supported)"
