"""What is benchmarked: the app's engines by name, plus the official RID architecture with random weights.

The official RID network (a 340 M-parameter DiT) is what a user would run instead of our compact
generator. Its published weights are not ours to ship, but its cost does not depend on the weights,
so random weights give the same compute. It runs through the same tiling as the ``rid`` engine does
for official checkpoints (512 px tiles, 64 px overlap, stitched).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from rid_desktop.engines import create_engine
from rid_desktop.engines.base import ProgressFn, check_image_tensor, project_linf
from rid_desktop.engines.generator_loading import GENERATOR_TILE, GENERATOR_TILE_OVERLAP
from rid_desktop.engines.tiling import tile_starts, tiled_delta


@dataclass(frozen=True)
class Subject:
    """One benchmarked way of protecting a photo.

    Attributes:
        key: short id used in tables and JSON ("rid", "pgd-100", ...).
        label: what the table shows.
        build: device -> engine with ``protect(image, eps, seed=..)``.
        warmup_build: device -> a cheaper engine warming the same kernels (PGD: 1 step), or None.
        tile, overlap: how the engine tiles a large photo (for extrapolating 12 MP cost).
        per_tile_extrapolation: 12 MP cost is extrapolated from the 512 px cost (too slow to measure).
        default: the app's default engine (the targets apply to it).
    """

    key: str
    label: str
    build: Callable[[torch.device], Any]
    warmup_build: Callable[[torch.device], Any] | None = None
    tile: int = 1024
    overlap: int = 64
    per_tile_extrapolation: bool = False
    fixed_tile: bool = False  # runs whole tile x tile inputs only (padded), so cost per tile is constant
    default: bool = False
    notes: str = ""
    options: dict = field(default_factory=dict)


class OfficialArchitectureEngine:
    """The official RID DiT (random weights, same FLOPs) behind the engine protocol, tiled at 512 px."""

    name = "official-rid-arch"

    def __init__(self, device: torch.device = torch.device("cpu"), tile_batch: int = 2, seed: int = 0, **arch):
        """``arch`` shrinks the network (``--quick`` smoke runs only); the default is the published size."""
        from rid_desktop.engines.rid_dit import OfficialRIDGenerator

        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.net = OfficialRIDGenerator(**arch).eval().requires_grad_(False).to(self.device)
        self.tile, self.overlap, self.tile_batch = self.net.input_size, min(64, self.net.input_size // 4), tile_batch

    def protect(self, image: torch.Tensor, eps: float, *, seed: int = 0, progress: ProgressFn | None = None) -> torch.Tensor:
        check_image_tensor(image)
        x = image.to(self.device, torch.float32)
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda"
                    else torch.autocast("cpu", enabled=False))
        with torch.inference_mode():
            def delta_fn(tiles: torch.Tensor) -> torch.Tensor:
                with autocast:
                    return self.net(tiles, eps).float()

            delta = tiled_delta(delta_fn, x, tile=self.tile, overlap=self.overlap, batch=self.tile_batch,
                                fixed_size=True, progress=progress)
            return project_linf(x, x + delta, eps).to(image.device, image.dtype)


def previous_default_engine(device: torch.device = torch.device("cpu")):
    """The generator this project shipped before issue 15, at its compute cost (random weights):
    width 128, a 32 px universal pattern, run at the photo's native size with 1024 px tiles.

    Why random weights: the speed of a network does not depend on its weights, and the previous
    checkpoint no longer ships — so "12 MP in N s" can be stated as a ratio against it, measured in
    the same run on the same loaded machine.
    """
    from rid_desktop.engines.generator_loading import tile_alignment
    from rid_desktop.engines.generator_net import GeneratorConfig, PixelGenerator

    engine = create_engine("rid", device=device, work_size=0)
    torch.manual_seed(0)
    net = PixelGenerator(GeneratorConfig(kind="pixel", width=128, depth=6, pattern=32)).eval().requires_grad_(False)
    engine.net, engine.key_channels = net.to(engine.device), 0
    engine.align = tile_alignment(net)
    return engine


def _iterative(steps: int):
    return lambda device: create_engine("iterative", device=device, steps=steps)


def subjects(pgd_steps: tuple[int, ...] = (20, 100), official_arch: dict | None = None) -> list[Subject]:
    """Every subject in table order (default first). ``official_arch``: reduced DiT for quick runs."""
    arch = dict(official_arch or {})
    out = [
        Subject("rid", "RID Desktop pixel generator (default)", lambda d: create_engine("rid", device=d), default=True,
                tile=GENERATOR_TILE, overlap=GENERATOR_TILE_OVERLAP),
        Subject("rid-previous-arch", "Previous default pixel generator (native scale; its architecture, random weights)",
                previous_default_engine, tile=GENERATOR_TILE, overlap=GENERATOR_TILE_OVERLAP,
                notes="the baseline of the issue-15 speed ratio; protection figure not meaningful (random weights)"),
        Subject("dwt-chroma", "RID Desktop DWT-chroma generator", lambda d: create_engine("dwt-chroma", device=d),
                tile=GENERATOR_TILE, overlap=GENERATOR_TILE_OVERLAP),
        Subject("refined", "Strong: generator + 4 refinement steps (TAEF2, at the generator's PSNR)",
                lambda d: create_engine("refined", device=d), warmup_build=lambda d: create_engine("refined", device=d, steps=1),
                tile=512, overlap=32, notes="works on the ~1024 px working copy, so 12 MP is measured, not extrapolated"),
        Subject("official-rid-arch", "Official RID architecture (DiT 1152 wide x 14 blocks, patch 16; random weights)",
                lambda d: OfficialArchitectureEngine(device=d, **arch), tile=arch.get("input_size", 512),
                overlap=min(64, arch.get("input_size", 512) // 4), per_tile_extrapolation=True, fixed_tile=True,
                notes="same compute as the published RID network; weights random, so its protection figure is not meaningful"),
    ]
    for steps in pgd_steps:
        out.append(Subject(f"pgd-{steps}", f"Iterative PGD, {steps} steps (TAEF2, EOT)", _iterative(steps),
                           warmup_build=_iterative(1), tile=512, overlap=32, per_tile_extrapolation=True,
                           options={"steps": steps}))
    return out


def tile_count(height: int, width: int, tile: int, overlap: int, align: int = 2) -> int:
    """How many tiles an engine runs on an (H, W) photo (matches :func:`tiled_delta`)."""
    if height <= tile and width <= tile:
        return 1
    th, tw = min(tile, height), min(tile, width)
    return len(tile_starts(height, th, overlap, align)) * len(tile_starts(width, tw, overlap, align))


def count_gflops(fn: Callable[[], Any]) -> float | None:
    """Floating-point work of ``fn()`` in GFLOP (PyTorch's counter: convs, matmuls, attention).

    A machine-independent cost: unlike seconds, it does not change with the machine's load.
    """
    try:
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            fn()
        return counter.get_total_flops() / 1e9
    except Exception:  # noqa: BLE001 - a missing figure is reported as "n/a", not a crash
        return None
