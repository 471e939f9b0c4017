"""Issue 17, item 12: ``eval`` skips an unreadable photo, naming it, instead of stopping at it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rid_desktop.errors import UserError
from rid_desktop.training.evaluate import load_crops


def test_eval_skips_an_unreadable_photo_by_name_and_goes_on(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a.png", "c.jpg"):
        Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(tmp_path / name)
    (tmp_path / "b.jpg").write_text("not a photo")
    notes = []
    names, crops = load_crops(tmp_path, 32, progress=notes.append)
    assert names == ["a.png", "c.jpg"] and tuple(crops.shape) == (2, 3, 32, 32)
    assert len(notes) == 1 and notes[0].startswith("skipped b.jpg:") and "\n" not in notes[0]


def test_eval_with_no_readable_photo_is_a_user_error(tmp_path):
    (tmp_path / "b.jpg").write_text("not a photo")
    with pytest.raises(UserError, match="no readable images"):
        load_crops(tmp_path, 32, progress=None)


def test_eval_names_match_their_crops_when_the_folder_mixes_formats(tmp_path):
    """Names used to come from a different listing (top-level .jpg/.png only) than the crops."""
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "a.webp")
    Image.fromarray(np.full((40, 40, 3), 255, np.uint8)).save(tmp_path / "b.png")
    names, crops = load_crops(tmp_path, 16, progress=None)
    assert names == ["a.webp", "b.png"]
    assert float(crops[0].mean()) < 0.01 and float(crops[1].mean()) > 0.99
