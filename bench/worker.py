"""One memory-sensitive case in a fresh interpreter: ``python -m bench.worker '<json spec>'``.

Prints one JSON object on its last stdout line (see :func:`bench.memory.run_worker`). Cases:

* ``e2e``: load a JPEG from disk, protect it at native resolution, write the protected JPEG —
  ``repeats`` times after a warm-up on a 1024 px crop (same tile shapes); peak RSS over all of it.
* ``batch``: ``rid_desktop.batch.plan_batch`` + ``run_batch`` over a folder of N photos; peak RSS.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from bench.memory import current_rss_bytes, peak_rss_bytes

EPS = 8 / 255


def _subject(key: str, official_arch: dict | None = None):
    from bench.subjects import subjects

    for subject in subjects(official_arch=official_arch):
        if subject.key == key:
            return subject
    raise ValueError(f"unknown subject {key!r}")


def run_e2e(spec: dict) -> dict:
    import torch

    from rid_desktop.io import load_image, save_protected, to_tensor
    from rid_desktop.settings import OutputSettings

    device = torch.device(spec.get("device", "cpu"))
    engine = _subject(spec["engine"], spec.get("official_arch")).build(device)
    rss_setup = current_rss_bytes()
    src, out_dir = Path(spec["path"]), Path(spec["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    warm = int(spec.get("warmup_size", 1024))
    engine.protect(torch.rand(1, 3, warm, warm, generator=torch.Generator().manual_seed(0)).to(device), EPS)
    output = OutputSettings()
    phases: dict[str, list[float]] = {"load": [], "protect": [], "save": [], "total": []}
    cpu_totals = []
    for i in range(int(spec.get("repeats", 3))):
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        loaded = load_image(src)
        image = to_tensor(loaded).to(device)
        t1 = time.perf_counter()
        protected = engine.protect(image, EPS, seed=i)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t2 = time.perf_counter()
        save_protected(loaded, protected.cpu(), out_dir / f"protected_{i}.jpg", output)
        t3 = time.perf_counter()
        cpu_totals.append(time.process_time() - cpu0)
        for key, value in (("load", t1 - t0), ("protect", t2 - t1), ("save", t3 - t2), ("total", t3 - t0)):
            phases[key].append(value)
        del loaded, image, protected
    result = {
        "ok": True,
        "size": list(_image_size(src)),
        "median_s": {k: statistics.median(v) for k, v in phases.items()},
        "runs_total_s": phases["total"],
        "cpu_median_s": statistics.median(cpu_totals),
        "rss_after_setup_bytes": rss_setup,
        "peak_rss_bytes": peak_rss_bytes(),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        result["peak_cuda_bytes"] = torch.cuda.max_memory_allocated(device)
    return result


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def run_batch_case(spec: dict) -> dict:
    import torch  # noqa: F401 - imported before the engine, as in the app
    from rid_desktop.batch import plan_batch, run_batch
    from rid_desktop.engines import create_engine
    from rid_desktop.settings import OutputSettings, ProtectionSettings

    settings = ProtectionSettings(engine=spec.get("engine", "rid"), eps=EPS, device="cpu",
                                  output=OutputSettings(output_dir=Path(spec["out_dir"])))
    engine = create_engine(settings.engine, device="cpu")
    rss_setup = current_rss_bytes()
    plan = plan_batch([Path(spec["folder"])], settings)
    started = time.perf_counter()
    done, failed = 0, []
    for event in run_batch(plan, engine):
        if event.kind == "item_done":
            done += 1
        elif event.kind == "item_failed":
            failed.append(str(event.message))
    seconds = time.perf_counter() - started
    return {
        "ok": not failed and done == len(plan.items),
        "error": failed[0] if failed else ("" if done == len(plan.items) else f"{done}/{len(plan.items)} done"),
        "images": done,
        "seconds": seconds,
        "images_per_s": done / seconds if seconds > 0 else 0.0,
        "rss_after_setup_bytes": rss_setup,
        "peak_rss_bytes": peak_rss_bytes(),
    }


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    cases = {"e2e": run_e2e, "batch": run_batch_case}
    if spec.get("case") not in cases:
        raise SystemExit(f"unknown worker case {spec.get('case')!r}; known: {', '.join(cases)}")
    if spec.get("threads"):
        import torch

        torch.set_num_threads(int(spec["threads"]))
    case = cases[spec["case"]]
    print(json.dumps(case(spec)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
