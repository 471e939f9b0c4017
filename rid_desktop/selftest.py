"""Headless end-to-end check of an installation: the frozen app's ``--self-test``.

Why: an installer can look fine and still miss a Qt plugin, a weights file or a native library.
This runs the same path a user's first protection takes — load the embedded generator, protect an
image, write and re-read the result — without a display, and checks that the surrogate models are
present (or can be installed) in the per-user data folder. Each step prints one line:

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
QUANT_SLACK = 1  # PNG stores 8-bit values: rounding may add one level to the budget


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
    """A deterministic photo-like uint8 (H, W, 3) image: gradients, a checkerboard and mild noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 0.5 + 0.4 * np.sin(xx / width * 3.1)
    g = 0.5 + 0.4 * np.cos(yy / height * 2.7)
    b = ((xx // 16 + yy // 16) % 2) * 0.5 + 0.25
    img = np.stack([r, g, b], -1) + rng.normal(0, 0.04, (height, width, 3))
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def environment_line() -> str:
    import torch

    where = "frozen bundle" if getattr(sys, "frozen", False) else "source checkout"
    return (
        f"RID Desktop {__version__} self-test ({where}; Python {platform.python_version()}, "
        f"torch {torch.__version__}, {platform.system()} {platform.machine()})"
    )


def check_engine(report: SelfTestReport, engine_name: str, eps: float):
    """Load the engine and protect the generated image.

    Returns:
        (image, protected): float tensors (1, 3, H, W) in [0, 1].
    """
    import torch

    from rid_desktop.engines import create_engine

    start = time.perf_counter()
    engine = create_engine(engine_name, device="cpu")
    shipped = sorted(p.name for p in paths.checkpoints_dir().glob("*.safetensors"))
    report.ok(
        f"engine {engine_name!r} loaded in {time.perf_counter() - start:.1f} s "
        f"(shipped checkpoints: {', '.join(shipped) or 'none'})"
    )

    original = generated_image()
    image = torch.from_numpy(original).permute(2, 0, 1)[None].float() / 255.0
    start = time.perf_counter()
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
    return image, protected


def to_uint8(image) -> np.ndarray:
    """(1, 3, H, W) float [0, 1] tensor -> (H, W, 3) uint8 array."""
    return (image[0].permute(1, 2, 0).numpy() * 255.0).round().clip(0, 255).astype(np.uint8)


def check_written_file(report: SelfTestReport, original: np.ndarray, protected: np.ndarray, eps: float, folder: Path) -> None:
    """Write the protected image as PNG (temp file + os.replace) and read it back unchanged."""
    from PIL import Image

    target = folder / "self-test-protected.png"
    tmp = target.with_name(target.name + ".tmp")
    Image.fromarray(protected).save(tmp, format="PNG")
    os.replace(tmp, target)
    with Image.open(target) as fh:
        fh.load()
        reread = np.asarray(fh.convert("RGB"))
    if reread.shape != original.shape:
        raise SelfTestFailure(f"written file has size {reread.shape[1]}x{reread.shape[0]}, expected "
                              f"{original.shape[1]}x{original.shape[0]}")
    if not np.array_equal(reread, protected):
        raise SelfTestFailure("written PNG does not read back identical to what was saved")
    levels = int(np.abs(reread.astype(np.int16) - original.astype(np.int16)).max())
    budget_levels = round(eps * 255) + QUANT_SLACK
    if levels > budget_levels:
        raise SelfTestFailure(f"saved file exceeds the budget: max change {levels}/255 > {budget_levels}/255")
    if levels == 0:
        raise SelfTestFailure("saved file is identical to the original: protection was lost when writing")
    report.ok(f"wrote and re-read {target.name} ({reread.shape[1]}x{reread.shape[0]}, "
              f"max change {levels}/255, {target.stat().st_size} bytes)")


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
            image, protected = check_engine(report, engine, eps)
            check_written_file(report, to_uint8(image), to_uint8(protected), eps, folder)
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
