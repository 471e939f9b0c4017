"""Registry entries are complete and model files are looked up in the documented order.

Order: explicit path -> $RID_DESKTOP_MODELS_DIR -> checkpoints/ in the install -> the per-user data
folder (platformdirs). Also: ``models install`` shows a progress bar on a terminal.
"""

from __future__ import annotations

import hashlib
import re
import sys

import platformdirs
import pytest

from rid_desktop import paths
from rid_desktop.errors import ModelError
from rid_desktop.models import registry
from rid_desktop.models.registry import MODELS, ModelSpec, locate, search_dirs


def test_every_registry_entry_says_what_where_and_under_which_license():
    assert {"taef2-encoder", "taef2-decoder", "rid-compact-pixel", "rid-compact-chroma", "rid-official"} <= set(MODELS)
    for name, spec in MODELS.items():
        assert spec.name == name
        assert spec.filename and "/" not in spec.filename
        assert spec.license.strip() and spec.purpose.strip() and spec.role.strip()
        if spec.url:  # downloadable: a public https URL pinned to a revision, and the checksum to verify
            assert spec.url.startswith("https://"), name
            assert spec.url.endswith(spec.filename) or spec.is_folder, name
            if spec.is_folder:  # a diffusers folder assembled from one verified file + recorded config
                assert re.fullmatch(r"[0-9a-f]{40}", spec.revision or "") and spec.revision in spec.url, name
                assert spec.config and spec.size_bytes and spec.homepage and spec.source_note, name
            if spec.sha256 is None:  # no verifiable published hash: listed, documented, never downloaded
                assert spec.is_folder and "could be verified" in spec.source_note, name
            else:
                assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256), name
        else:  # bundled with the app, or supplied by the user (official RID)
            assert spec.bundled or spec.role == "rid-official", name


def test_registry_checksums_match_the_shared_surrogate_files(shared_models):
    for name in ("taef2-encoder", "taef2-decoder"):
        spec = MODELS[name]
        data = (shared_models / spec.filename).read_bytes()
        assert hashlib.sha256(data).hexdigest() == spec.sha256
        assert locate(name) == shared_models / spec.filename


@pytest.fixture
def four_places(tmp_path, monkeypatch):
    """The same user-supplied model file in all four places; yields (spec, [explicit, env, ckpt, user])."""
    spec = ModelSpec(name="order-fake", filename="order-fake.pth", sha256=None, url=None, license="test",
                     purpose="look-up order test", role="rid-official")
    monkeypatch.setitem(registry.MODELS, spec.name, spec)
    env_dir, ckpt_dir = tmp_path / "env", tmp_path / "install" / "checkpoints"
    monkeypatch.setenv(registry.MODELS_DIR_ENV, str(env_dir))
    monkeypatch.setattr(paths, "checkpoints_dir", lambda: ckpt_dir)
    files = [tmp_path / "explicit" / "mine.pth", env_dir / spec.filename, ckpt_dir / spec.filename,
             paths.user_data_dir() / "models" / spec.filename]
    for i, path in enumerate(files):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([i]))
    return spec, files


def test_lookup_order_is_explicit_env_checkpoints_user(four_places, monkeypatch):
    spec, (explicit, env_file, ckpt_file, user_file) = four_places
    assert search_dirs() == [env_file.parent, ckpt_file.parent, user_file.parent]
    assert locate(spec.name, explicit) == explicit
    assert locate(spec.name) == env_file
    env_file.unlink()
    assert locate(spec.name) == ckpt_file
    ckpt_file.unlink()
    assert locate(spec.name) == user_file
    user_file.unlink()
    with pytest.raises(ModelError, match="not installed") as info:
        locate(spec.name)
    for folder in (env_file.parent, ckpt_file.parent, user_file.parent):
        assert str(folder) in str(info.value)
    with pytest.raises(ModelError, match="not found"):
        locate(spec.name, explicit.parent / "missing.pth")  # an explicit path is never second-guessed
    monkeypatch.delenv(registry.MODELS_DIR_ENV)
    assert search_dirs() == [ckpt_file.parent, user_file.parent]


def test_user_folder_is_the_platformdirs_data_dir(monkeypatch):
    monkeypatch.delenv("RID_DESKTOP_DATA_DIR")
    expected = platformdirs.user_data_dir(paths.APP_SLUG, appauthor=False)
    assert str(paths.user_data_dir()) == expected
    assert search_dirs()[-1] == paths.user_data_dir() / "models"


def test_install_shows_a_progress_bar_on_a_terminal(monkeypatch):
    """tqdm draws on stderr when it is a terminal (and stays quiet in logs, where it is not)."""
    import io

    from rid_desktop.commands import models as models_cmd

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def fake_install(name, *, progress, force):
        for done in (0, 512, 1024):
            progress(done, 1024)
        return paths.user_data_dir() / "models" / "x.pth"

    monkeypatch.setattr(models_cmd, "install_model", fake_install)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert models_cmd._install(["taef2-encoder"], force=False) == 0
    drawn = terminal.getvalue()
    # a bar with the name and the size from Content-Length (tqdm redraws at most every 0.1 s)
    assert "taef2-encoder:" in drawn and "%|" in drawn and "1.00k" in drawn
