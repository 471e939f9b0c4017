"""Headless end-to-end check of an installation: the frozen app's ``--self-test``.

Why: an installer can look fine and still miss a Qt plugin, a weights file or a native library.
This runs the same path a user's first protection takes — the engine factory, then a real batch
(plan, read, decode with the ICC and EXIF handling, protect, ``save_protected``'s atomic write) on a
generated JPEG carrying EXIF (with GPS) and an ICC profile, then re-reads the result — without a
display, and checks that the surrogate models are present (or can be installed) in the per-user data
folder. Each step prints one line:

    [ok]   engine 'rid' loaded in 0.3 s (checkpoints: rid-compact-pixel.safetensors, ...)
    [warn] surrogate taef2-decoder: not installed and could not be downloaded (...)
    [FAIL] protected image exceeds the budget: max change 9/255 > 8/255

Surrogate problems are warnings only: protection with our generator never needs them.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from rid_desktop import __version__, paths
from rid_desktop.errors import UserError

Emit = Callable[[str], None]

TEST_SIZE = (96, 128)  # (H, W) of the generated image: big enough for the 4x pixel-unshuffle, tiny on CPU
TEST_PHOTO = "self-test.jpg"
TEST_CAMERA = "RID Desktop self-test camera"


class SelfTestFailure(Exception):
    """A check that a working installation must pass did not pass (message = one report line)."""


@dataclass
class SelfTestReport:
    """Lines written so far and how many checks warned or failed."""

    emit: Emit
    warnings: int = 0
    failures: int = 0
    lines: list[str] = field(default_factory=list)

    def _write(self, tag: str, text: str) -> None:
        line = f"{tag:<6} {text}"
        self.lines.append(line)
        self.emit(line)

    def ok(self, text: str) -> None:
        self._write("[ok]", text)

    def warn(self, text: str) -> None:
        self.warnings += 1
        self._write("[warn]", text)

    def fail(self, text: str) -> None:
        self.failures += 1
        self._write("[FAIL]", text)

    def info(self, text: str) -> None:
        self.lines.append(text)
        self.emit(text)


def generated_image(height: int = TEST_SIZE[0], width: int = TEST_SIZE[1]) -> np.ndarray:
    """A deterministic photo-like uint8 (H, W, 3) image (the project's one synthetic photo)."""
    from rid_desktop.demo_images import synthetic_rgb

    return synthetic_rgb(height, width, seed=0)


def environment_line() -> str:
    import torch

    where = "frozen bundle" if getattr(sys, "frozen", False) else "source checkout"
    return (
        f"RID Desktop {__version__} self-test ({where}; Python {platform.python_version()}, "
        f"torch {torch.__version__}, {platform.system()} {platform.machine()})"
    )


def check_engine(report: SelfTestReport, engine_name: str, eps: float):
    """Build the engine with the app's factory and protect the generated image directly.

    Returns:
        (engine, image, protected): the engine, and float tensors (1, 3, H, W) in [0, 1].
    """
    import torch

    from rid_desktop.engines import make_engine
    from rid_desktop.settings import ProtectionSettings

    start = time.perf_counter()
    engine = make_engine(ProtectionSettings(engine=engine_name, eps=eps, device="cpu"))
    shipped = sorted(p.name for p in paths.checkpoints_dir().glob("*.safetensors"))
    report.ok(
        f"engine {engine_name!r} loaded in {time.perf_counter() - start:.1f} s "
        f"(shipped checkpoints: {', '.join(shipped) or 'none'})"
    )

    original = generated_image()
    image = torch.from_numpy(original).permute(2, 0, 1)[None].float() / 255.0
    start = time.perf_counter()
    with torch.no_grad():
        protected = engine.protect(image, eps, seed=0)
    elapsed = time.perf_counter() - start
    if tuple(protected.shape) != tuple(image.shape):
        raise SelfTestFailure(f"engine changed the image shape: {tuple(image.shape)} -> {tuple(protected.shape)}")
    if not torch.isfinite(protected).all() or protected.min() < 0 or protected.max() > 1:
        raise SelfTestFailure("engine returned values outside [0, 1] (or NaN)")
    change = (protected - image).abs()
    max_change, mean_change = float(change.max()), float(change.mean())
    if max_change > eps + 1e-6:
        raise SelfTestFailure(f"protected image exceeds the budget: max change {max_change * 255:.2f}/255 > {eps * 255:.0f}/255")
    if mean_change < 0.05 / 255:
        raise SelfTestFailure(f"engine left the image (almost) unchanged: mean change {mean_change * 255:.3f}/255")
    height, width = original.shape[:2]
    report.ok(
        f"protected a {width}x{height} test image in {elapsed:.2f} s: max change {max_change * 255:.1f}/255 "
        f"(budget {eps * 255:.0f}/255), mean {mean_change * 255:.2f}/255"
    )
    return engine, image, protected


def write_test_photo(folder: Path) -> Path:
    """The generated image as a camera JPEG: EXIF (camera name, GPS) and an embedded sRGB ICC profile.

    Writing the profile needs Pillow's ICC module: a bundle without it fails here, as a user's
    photo with a profile would fail later.
    """
    from PIL import Image, ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = TEST_CAMERA  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPS: must be removed
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / TEST_PHOTO
    Image.fromarray(generated_image()).save(path, format="JPEG", quality=95, subsampling=0, exif=exif.tobytes(),
                                            icc_profile=icc)
    return path


def check_batch(report: SelfTestReport, engine, engine_name: str, eps: float, folder: Path) -> Path:
    """Plan and run a real batch on a generated camera JPEG, then re-read what it wrote.

    Checks the batch kept the budget, and that the output exists at the planned path with the same
    size, carries the ICC profile and the EXIF minus GPS, and still differs from the original on
    average (the written copy is a q95 JPEG, whose own coding error adds a few levels here and there,
    so the file is judged by its mean change, the protected pixels by the batch's own L-inf).
    """
    from PIL import Image

    from rid_desktop.batch import plan_batch, run_batch
    from rid_desktop.io import load_image
    from rid_desktop.settings import ProtectionSettings

    source = write_test_photo(folder / "photos")
    settings = ProtectionSettings(engine=engine_name, eps=eps, device="cpu")
    plan = plan_batch([source.parent], settings)
    if len(plan.pending) != 1:
        raise SelfTestFailure(f"the batch planner found {len(plan.pending)} photos to protect, expected 1")
    start = time.perf_counter()
    linf = None
    for event in run_batch(plan, engine):
        if event.kind == "item_failed":
            raise SelfTestFailure(f"the batch could not protect the test photo: {event.message}")
        if event.kind == "item_done":
            linf = event.metrics["linf"]
    elapsed = time.perf_counter() - start
    if linf is None or linf > eps * 255 + 1e-3:
        raise SelfTestFailure(f"the batch's protected image exceeds the budget: {linf}/255 > {eps * 255:.0f}/255")
    output = plan.items[0].output
    if not output.is_file():
        raise SelfTestFailure(f"the batch wrote no file at {output}")
    original, written = load_image(source), load_image(output)
    if written.size != original.size:
        raise SelfTestFailure(f"written file has size {written.size}, expected {original.size}")
    if written.icc_profile != original.icc_profile:
        raise SelfTestFailure("the written file lost the photo's ICC colour profile")
    with Image.open(output) as fh:
        exif = fh.getexif()
    if exif.get(0x010F) != TEST_CAMERA:
        raise SelfTestFailure("the written file lost the photo's EXIF (camera name)")
    if exif.get_ifd(0x8825):
        raise SelfTestFailure("the written file still carries the GPS location (it must be removed)")
    mean_levels = float((np.abs(written.rgb - original.rgb) * 255).mean())
    if mean_levels > eps * 255:
        raise SelfTestFailure(f"saved file changed more than the budget: mean change {mean_levels:.1f}/255")
    if mean_levels < 0.25:
        raise SelfTestFailure("saved file is (almost) identical to the original: protection was lost when writing")
    report.ok(f"protected {source.name} through a real batch in {elapsed:.2f} s (max change {linf:.1f}/255), "
              f"wrote and re-read {output.name} ({written.size[0]}x{written.size[1]}, mean change "
              f"{mean_levels:.1f}/255, ICC profile and EXIF kept, GPS removed)")
    return output


def check_surrogates(report: SelfTestReport, install: bool) -> list[str]:
    """Find each surrogate model, installing it into the per-user folder when missing (warn, never fail).

    Returns:
        Names of the surrogates that are available now.
    """
    from rid_desktop.models.registry import MODELS, locate

    available: list[str] = []
    for spec in MODELS.values():
        if not spec.role.startswith("surrogate"):
            continue
        try:
            report.ok(f"surrogate {spec.name}: found at {locate(spec.name)}")
            available.append(spec.name)
            continue
        except UserError as exc:
            missing = str(exc)
        if not install:
            report.warn(f"surrogate {spec.name}: not installed ({missing}); protection does not need it")
            continue
        try:
            from rid_desktop.models.download import install_model

            report.ok(f"surrogate {spec.name}: installed to {install_model(spec.name)}")
            available.append(spec.name)
        except (UserError, OSError) as exc:
            report.warn(f"surrogate {spec.name}: not installed and could not be downloaded ({exc}); "
                        "protection does not need it")
    return available


def check_surrogate_effect(report: SelfTestReport, image, protected) -> None:
    """Load the surrogate encoder (a weights-only .pth) and measure how far protection moved its latent.

    Why: proves the installed surrogate is usable by the checks/preview, and that the protection is
    not a no-op for the model it targets. Reported, not judged: the number depends on the image.
    """
    import torch

    from rid_desktop.models.surrogates import load_encoder

    encoder = load_encoder()
    with torch.inference_mode():
        clean, moved = encoder(image), encoder(protected)
    if not torch.isfinite(moved).all():
        raise SelfTestFailure("surrogate encoder returned NaN/inf for the protected image")
    relative = float((moved - clean).norm() / clean.norm().clamp_min(1e-12))
    report.ok(f"surrogate encoder loaded: protection moved its latent by {relative * 100:.1f}% "
              f"(latent shape {tuple(clean.shape)})")


def run_self_test(*, engine: str = "rid", install_surrogates: bool = True, emit: Emit = print,
                  workdir: str | os.PathLike | None = None,
                  extra_checks: Sequence[Callable[[SelfTestReport], None]] = ()) -> int:
    """Run every check, print one line each and a verdict; returns the process exit code (0 = passed).

    Args:
        engine: registry name of the engine to exercise (the default embedded one unless testing).
        install_surrogates: try to download missing surrogates into the per-user data folder.
        emit: where report lines go (``print`` for the CLI; a list's ``append`` in tests).
        workdir: folder for the written test image; a temporary folder (removed afterwards) if None.
        extra_checks: more checks run after the engine/file checks, each ``check(report)``; raise
            :class:`SelfTestFailure` (or anything) to fail. The windowed app adds its Qt window check
            here, so this module never imports Qt.
    """
    from rid_desktop.strength import parse_strength

    report = SelfTestReport(emit)
    try:
        report.info(environment_line())
        eps = parse_strength("medium")
        with tempfile.TemporaryDirectory(prefix="rid-selftest-") as tmp:
            folder = Path(workdir) if workdir is not None else Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            built, image, protected = check_engine(report, engine, eps)
            check_batch(report, built, engine, eps, folder)
        for check in extra_checks:
            check(report)
        if "taef2-encoder" in check_surrogates(report, install_surrogates):
            check_surrogate_effect(report, image, protected)
    except (SelfTestFailure, UserError) as exc:
        report.fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - a broken bundle shows up as any exception; name it, don't trace
        report.fail(f"unexpected {type(exc).__name__}: {exc}")
    if report.failures:
        report.info("self-test FAILED")
        return 1
    suffix = f" ({report.warnings} warning{'s' if report.warnings != 1 else ''})" if report.warnings else ""
    report.info(f"self-test passed{suffix}")
    return 0
