"""Speed levers tried on the default generator: what helps on this CPU and what does not, with numbers.

Each lever is timed like everything else (warm-up + median) against the same baseline, on the same
``size`` x ``size`` photo, and its output is compared with the baseline's (max |difference| in
1/255 units), so a lever that is fast because it is wrong shows up as such.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from typing import Any, Callable

import torch

from bench import inputs
from bench.config import BenchConfig
from bench.memory import REPO
from bench.timing import measure

Log = Callable[[str], None]


def _diff_255(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max()) * 255


def speed_levers(cfg: BenchConfig, log: Log) -> dict[str, Any]:
    from rid_desktop.engines import create_engine

    engine = create_engine("rid")
    net = engine.net
    x = inputs.protection_images(1, cfg.size)[0]
    eps = cfg.eps
    rows: list[dict[str, Any]] = []

    def trial(name: str, fn: Callable[[], torch.Tensor], *, group: str, reference: torch.Tensor | None = None,
              per_call_images: int = 1, note: str = "") -> torch.Tensor:
        log(f"lever: {name}")
        out = fn()
        timing = measure(lambda i: fn(), repeats=cfg.repeats, warmup=1)
        row = {"group": group, "lever": name, "median_s": timing.median_s / per_call_images,
               "cpu_median_s": timing.cpu_median_s / per_call_images, "note": note}
        if reference is not None:
            row["max_diff_255"] = _diff_255(out[:1], reference[:1])
        rows.append(row)
        log(f"  {row['median_s']:.3f} s/image")
        return out

    # Engine level: what users run today.
    base = trial("engine.protect (as shipped: inference_mode, fp32, contiguous)",
                 lambda: engine.protect(x, eps), group="baseline")

    # Autograd bookkeeping.
    def net_call(model, image, ctx):
        with ctx():
            return (image + model(image, eps)).clamp(0, 1)

    trial("generator forward, autograd on (no context)", lambda: net_call(net, x, torch.enable_grad),
                    group="autograd", reference=base)
    trial("generator forward, torch.no_grad", lambda: net_call(net, x, torch.no_grad), group="autograd", reference=base)
    trial("generator forward, torch.inference_mode", lambda: net_call(net, x, torch.inference_mode),
          group="autograd", reference=base)

    # Memory format.
    net_cl = copy.deepcopy(net).to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    trial("channels_last weights + input", lambda: net_call(net_cl, x_cl, torch.inference_mode),
          group="memory format", reference=base)

    # Reduced precision on CPU.
    def bf16():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return (x + net(x, eps).float()).clamp(0, 1)

    trial("bf16 autocast (CPU)", bf16, group="precision", reference=base,
          note="fast only where the CPU has AVX512-BF16/AMX")

    # Threads.
    default_threads = torch.get_num_threads()
    candidates = sorted({1, 2, default_threads, os.cpu_count() or default_threads})
    for threads in candidates:
        torch.set_num_threads(threads)
        try:
            trial(f"torch.set_num_threads({threads})" + (" (default)" if threads == default_threads else ""),
                  lambda: engine.protect(x, eps), group="threads", reference=base)
        finally:
            torch.set_num_threads(default_threads)

    # Several images per network call (the engines call the network once per image).
    x4 = torch.cat([x, x.flip(-1), x.flip(-2), x.flip(-1).flip(-2)])
    trial("4 images per generator call (per image)", lambda: net_call(net, x4, torch.inference_mode),
          group="batching", reference=base, per_call_images=4)

    # Tile size / tiles per call on a larger photo (what a 12 MP photo goes through).
    big_side = cfg.size * 4
    big = inputs.to_tensor(inputs.photo_like(big_side * 3 // 4, big_side, seed=5))
    tile_rows = []
    for tile, tile_batch in ((cfg.size * 2, 1), (cfg.size * 2, 2), (cfg.size * 2, 4), (cfg.size, 4), (big_side, 1)):
        eng = create_engine("rid", tile=tile, tile_batch=tile_batch, overlap=min(64, tile // 4))
        name = f"tile {tile}px x {tile_batch} per call" + (" (shipped)" if (tile, tile_batch) == (1024, 2) else "")
        log(f"lever: {name} on {big_side}x{big_side * 3 // 4}")
        timing = measure(lambda i: eng.protect(big, eps), repeats=max(1, cfg.slow_repeats), warmup=1)
        tile_rows.append({"group": "tiling", "lever": name, "median_s": timing.median_s,
                          "cpu_median_s": timing.cpu_median_s,
                          "note": f"{big_side}x{big_side * 3 // 4} photo ({big.shape[-1] * big.shape[-2] / 1e6:.1f} MP)"})
        log(f"  {timing.median_s:.3f} s/photo")

    compile_row = torch_compile_trial(cfg, log)
    return {"size": cfg.size, "rows": rows, "tiling": tile_rows, "compile": compile_row,
            "threads_default": default_threads}


def torch_compile_trial(cfg: BenchConfig, log: Log) -> dict[str, Any]:
    """torch.compile of the generator, in a subprocess killed after ``compile_time_box_s``."""
    if cfg.compile_time_box_s <= 0:
        return {"status": "skipped (quick run)"}
    log(f"lever: torch.compile (time box {cfg.compile_time_box_s:.0f} s)")
    code = (
        "import json,time,torch\n"
        "from bench import inputs\n"
        "from bench.timing import measure\n"
        "from rid_desktop.engines import create_engine\n"
        f"x=inputs.protection_images(1,{cfg.size})[0]; eps={cfg.eps}\n"
        "net=create_engine('rid').net\n"
        "def run(m):\n"
        "    with torch.inference_mode(): return (x+m(x,eps)).clamp(0,1)\n"
        f"base=measure(lambda i: run(net), repeats={cfg.repeats})\n"
        "c=torch.compile(net, dynamic=False)\n"
        "t=time.perf_counter(); out=run(c); first=time.perf_counter()-t\n"
        f"steady=measure(lambda i: run(c), repeats={cfg.repeats})\n"
        "diff=float((out-run(net)).abs().max())*255\n"
        "print(json.dumps({'status':'ok','base_s':base.median_s,'first_call_s':first,"
        "'median_s':steady.median_s,'max_diff_255':diff}))\n"
    )
    try:
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                              timeout=cfg.compile_time_box_s)
    except subprocess.TimeoutExpired:
        log("  timed out")
        return {"status": f"abandoned: not done within the {cfg.compile_time_box_s:.0f} s time box"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode == 0 and lines:
        res = json.loads(lines[-1])
        log(f"  compiled {res['median_s']:.3f} s vs eager {res['base_s']:.3f} s (first call {res['first_call_s']:.1f} s)")
        return res
    tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    log(f"  failed: {tail[-1] if tail else proc.returncode}")
    return {"status": f"failed: {tail[-1][:200] if tail else proc.returncode}"}
