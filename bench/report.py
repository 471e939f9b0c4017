"""Render the results of one run as docs/benchmarks.md (tables, targets pass/fail) and a plot."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

GB = 1e9  # the targets say "GB": decimal gigabytes
MIB = 2**20

TARGETS = {
    "images_per_s": 4.0,  # default generator at 512x512 (issue 8); == 0.25 s per image (issue 4)
    "e2e_12mp_s": 8.0,
    "peak_12mp_bytes": 1.5 * GB,
    "vs_official": 10.0,
    "vs_pgd100": 300.0,
    "batch_growth": 1.05,  # peak RSS of the large batch <= 5 % above the small one
    "preview_1mp_s": 1.0,  # GUI strength-slider preview of a 1 MP photo (issue 6)
}


def emit_table(table: str, output: str | Path | None) -> None:
    """Print a Markdown table a bench tool made and, if asked, also write it to ``output``."""
    print(table, end="")
    if output:
        Path(output).write_text(table, encoding="utf-8")


def _fmt(value: Any, digits: int = 2, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return "n/a"
    if isinstance(value, (int, float)):
        if abs(value) >= 1000:
            return f"{value:,.0f}{unit}"
        if abs(value) >= 100:
            return f"{value:.0f}{unit}"
        return f"{value:.{digits}f}{unit}"
    return str(value)


def _l2(mse_ratio: Any) -> Any:
    """The headline metric from a stored MSE ratio: the L2 latent ratio is its square root."""
    return math.sqrt(mse_ratio) if isinstance(mse_ratio, (int, float)) and mse_ratio >= 0 else None


def _protection(mse_ratio: Any) -> str:
    """'L2 (MSE)': the L2 latent ratio first, the MSE ratio it comes from in brackets."""
    return "n/a" if _l2(mse_ratio) is None else f"{_fmt(_l2(mse_ratio))} ({_fmt(mse_ratio)})"


def _mib(value: Any) -> str:
    return "n/a" if value is None else f"{value / MIB:,.0f} MiB"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**pass**" if ok else "**FAIL**")


def _cpu(results: dict, section: str) -> dict:
    return (results.get(section) or {}).get("cpu") or {}


def _pgd_long(results: dict) -> str:
    steps = (results.get("config") or {}).get("pgd_steps") or [20, 100]
    return f"pgd-{max(steps)}"


def _pgd_short(results: dict) -> str:
    steps = (results.get("config") or {}).get("pgd_steps") or [20, 100]
    return f"pgd-{min(steps)}"


# --- targets ------------------------------------------------------------------------------------


def target_rows(results: dict) -> list[list[str]]:
    speed = _cpu(results, "speed").get("subjects", {})
    rid = speed.get("rid", {})
    e2e = _cpu(results, "e2e").get("subjects", {}).get("rid", {})
    batch = (results.get("batch") or {}).get("runs", {})
    long_pgd = _pgd_long(results)
    rows = []

    ips = rid.get("images_per_s") if rid.get("ok") else None
    rows.append(["Default generator >= 4 images/s at 512x512 (<= 0.25 s, issue 4)",
                 f"{_fmt(ips)} images/s ({_fmt(rid.get('median_s'), 3)} s; CPU {_fmt(rid.get('cpu_median_s'), 3)} s)",
                 _verdict(None if ips is None else ips >= TARGETS["images_per_s"])])

    total = (e2e.get("median_s") or {}).get("total") if e2e.get("ok") else None
    rows.append(["12 MP photo end to end (load, protect, write JPEG) <= 8 s", f"{_fmt(total)} s",
                 _verdict(None if total is None else total <= TARGETS["e2e_12mp_s"])])

    peak = e2e.get("peak_rss_bytes") if e2e.get("ok") else None
    rows.append(["Peak memory for a 12 MP photo <= 1.5 GB", f"{_fmt(None if peak is None else peak / GB)} GB",
                 _verdict(None if peak is None else peak <= TARGETS["peak_12mp_bytes"])])

    vs_off = (rid.get("speedup_vs") or {}).get("official-rid-arch")
    rows.append([">= 10x faster than the official RID architecture (512x512)", f"{_fmt(vs_off, 1)}x",
                 _verdict(None if vs_off is None else vs_off >= TARGETS["vs_official"])])

    vs_pgd = (rid.get("speedup_vs") or {}).get(long_pgd)
    extrap = " (PGD extrapolated)" if speed.get(long_pgd, {}).get("extrapolated") else ""
    rows.append([f">= 300x faster than {long_pgd.replace('pgd-', '')}-step PGD (512x512)", f"{_fmt(vs_pgd, 0)}x{extrap}",
                 _verdict(None if vs_pgd is None else vs_pgd >= TARGETS["vs_pgd100"])])

    sizes = (results.get("batch") or {}).get("sizes") or []
    if len(sizes) == 2 and all(batch.get(str(n), {}).get("ok") for n in sizes):
        small, large = (batch[str(n)]["peak_rss_bytes"] for n in sizes)
        growth = large / small
        rows.append([f"Batch peak memory does not grow ({sizes[0]} vs {sizes[1]} photos)",
                     f"{_mib(small)} vs {_mib(large)} ({(growth - 1) * 100:+.1f} %)",
                     _verdict(growth <= TARGETS["batch_growth"])])
    else:
        rows.append(["Batch peak memory does not grow", "n/a", "n/a"])

    preview = ((results.get("checks") or {}).get("preview") or {}).get("timing", {}).get("median_s")
    rows.append(["GUI preview of a 1 MP photo after a strength change <= 1 s (issue 6)", f"{_fmt(preview, 3)} s",
                 _verdict(None if preview is None else preview <= TARGETS["preview_1mp_s"])])

    prot = (rid.get("protection") or {}).get("ratio_vs_noise")
    prot_pgd = (speed.get(long_pgd, {}).get("protection") or {}).get("ratio_vs_noise")
    short_pgd = _pgd_short(results)
    prot_short = (speed.get(short_pgd, {}).get("protection") or {}).get("ratio_vs_noise")
    rows.append(["...at comparable protection (L2 latent ratio vs same-L-inf sign noise on TAEF2; MSE ratio in brackets)",
                 f"default {_protection(prot)}, {short_pgd.upper()} {_protection(prot_short)}, {long_pgd.upper()} "
                 f"{_protection(prot_pgd) if prot_pgd is not None else 'not run (extrapolated)'}", "see below"])
    return rows


# --- sections -----------------------------------------------------------------------------------


def speed_section(results: dict) -> list[str]:
    lines: list[str] = []
    long_pgd, short_pgd = _pgd_long(results), _pgd_short(results)
    for device, block in (results.get("speed") or {}).items():
        if "error" in block:
            lines += [f"Speed section failed on {device}: {block['error']}", ""]
            continue
        size = block.get("size")
        lines += [f"### Speed and protection at {size}x{size} ({device})", ""]
        header = ["engine", "s / image", "images/s", "CPU s", "GFLOP", f"x faster than {long_pgd.upper()}",
                  f"x faster than {short_pgd.upper()}", "x faster than official RID", "protection: L2 x noise (MSE)", "images", "runs"]
        rows = []
        for key, e in block.get("subjects", {}).items():
            if not e.get("ok"):
                rows.append([key, f"failed: {e.get('error', '')[:80]}"] + [""] * (len(header) - 2))
                continue
            sp = e.get("speedup_vs") or {}
            prot = e.get("protection") or {}
            ratio = prot.get("ratio_vs_noise")
            if key == "dwt-chroma" and prot.get("ratio_vs_chroma_noise") is not None:
                ratio_text = f"{_protection(ratio)}; {_protection(prot['ratio_vs_chroma_noise'])} vs chroma noise"
            elif key == "official-rid-arch":
                ratio_text = f"{_protection(ratio)}, random weights"
            else:
                ratio_text = _protection(ratio)
            runs = str(e.get("repeats")) if not e.get("extrapolated") else "extrapolated*"
            name = f"**{key}**" if e.get("default") else key
            rows.append([name, _fmt(e.get("median_s"), 3), _fmt(e.get("images_per_s"), 3), _fmt(e.get("cpu_median_s"), 2),
                         _fmt(e.get("gflops"), 1), _fmt(sp.get(long_pgd), 1), _fmt(sp.get(short_pgd), 1),
                         _fmt(sp.get("official-rid-arch"), 1), ratio_text, str(prot.get("images", "-")), runs])
        lines += _table(header, rows)
        for key, e in block.get("subjects", {}).items():
            if e.get("extrapolated"):
                lines += [f"\\* {key}: not run to the end, extrapolated {e['extrapolated']}.", ""]
        lines += [f"Protection images: {block.get('protection_images')} (centre crops, {size}x{size}, eps 8/255).", ""]
    return lines


def e2e_section(results: dict) -> list[str]:
    lines: list[str] = []
    for device, block in (results.get("e2e") or {}).items():
        if "error" in block:
            lines += [f"12 MP section failed on {device}: {block['error']}", ""]
            continue
        w, h = block.get("size", [0, 0])
        lines += [f"### {block.get('megapixels', 0):.1f} MP photo end to end ({w}x{h} JPEG, {device})", ""]
        header = ["engine", "total s", "load s", "protect s", "write s", "CPU s", "RSS after model load", "peak RSS", "how"]
        rows = []
        for key, e in block.get("subjects", {}).items():
            if not e.get("ok"):
                rows.append([key, f"failed: {str(e.get('error', ''))[:80]}"] + [""] * (len(header) - 2))
                continue
            m = e.get("median_s") or {}
            how = f"measured, median of {len(e.get('runs_total_s', []))}" if e.get("measured") else f"extrapolated: {e.get('extrapolated')}"
            rows.append([key, _fmt(m.get("total")), _fmt(m.get("load")), _fmt(m.get("protect")), _fmt(m.get("save")),
                         _fmt(e.get("cpu_median_s")), _mib(e.get("rss_after_setup_bytes")), _mib(e.get("peak_rss_bytes")), how])
        lines += _table(header, rows)
    if lines:
        lines += ["Each measured engine runs in a fresh process (peak RSS = that process's high-water mark, model "
                  "load included), warmed up on a 1024 px crop first. Writing uses `rid_desktop.io.save_protected` "
                  "(JPEG q95, 4:4:4, optimised).", ""]
    return lines


def batch_section(results: dict) -> list[str]:
    block = results.get("batch")
    if not block:
        return []
    if "error" in block:
        return [f"Batch section failed: {block['error']}", ""]
    w, h = block.get("image_size", [0, 0])
    rows = []
    for n, e in (block.get("runs") or {}).items():
        if not e.get("ok"):
            rows.append([n, f"failed: {str(e.get('error', ''))[:80]}", "", "", ""])
            continue
        rows.append([n, _fmt(e.get("seconds")), _fmt(e.get("images_per_s")), _mib(e.get("rss_after_setup_bytes")),
                     _mib(e.get("peak_rss_bytes"))])
    return [f"### Batch memory ({w}x{h} JPEGs through `rid_desktop.batch.run_batch`, default engine)", ""] + _table(
        ["photos", "total s", "images/s", "RSS after model load", "peak RSS"], rows)


def checks_section(results: dict) -> list[str]:
    block = results.get("checks")
    if not block:
        return []
    if "error" in block:
        return [f"Checks section failed: {block['error']}", ""]
    size = block.get("size")
    rows = []
    for spec, e in (block.get("checks") or {}).items():
        rows.append([spec, e.get("label", ""), _fmt(e["purifier"]["median_s"], 3), _fmt(e["full_check"]["median_s"], 2)])
    return [f"### Check costs on a {size}x{size} photo (CPU)", ""] + _table(
        ["check", "purifier", "purifier alone, s", "full check, s"], rows) + [
        "Full check = `rid_desktop.checks.build_check_report` with that one purifier and no thumbnails: the "
        "purifier on the original, protected and noise images of the scored centre crop (512 px) plus the "
        "TAEF2 scoring before and after.", ""] + _preview_lines(block.get("preview"))


def _preview_lines(preview: dict | None) -> list[str]:
    if not preview:
        return []
    h, w = preview["hw"]
    return [f"GUI strength-slider preview of a {h}x{w} photo (default engine + metrics + heat map): "
            f"**{_fmt(preview['timing']['median_s'], 3)} s** (median).", ""]


def thumbnails_section(results: dict) -> list[str]:
    e = results.get("thumbnails")
    if not e:
        return []
    if "error" in e:
        return [f"Thumbnail section failed: {e['error']}", ""]
    w, h = e.get("source_size", [0, 0])
    n = e.get("count", 0)
    return [f"### Thumbnails for {n} photos ({w}x{h} JPEGs)", "",
            f"- Function: {e.get('function')}",
            f"- Cold (empty cache): **{_fmt(e.get('cold_s'))} s** ({_fmt(1000 * e['cold_s'] / max(n, 1), 1)} ms per photo)",
            f"- Cached (second pass): {_fmt(e.get('cached_s'))} s", ""]


def levers_section(results: dict) -> list[str]:
    block = results.get("levers")
    if not block:
        return []
    if "error" in block:
        return [f"Speed-lever section failed: {block['error']}", ""]
    rows_in = block.get("rows", [])
    base = next((r["median_s"] for r in rows_in if r["group"] == "baseline"), None)
    inference = next((r["median_s"] for r in rows_in if "inference_mode" in r["lever"] and r["group"] == "autograd"), base)
    rows = []
    verdicts: dict[str, list[str]] = {}
    for r in rows_in:
        ref = base if r["group"] in ("baseline", "threads") else inference
        speedup = ref / r["median_s"] if ref and r["median_s"] else None
        if r["group"] != "baseline":
            verdicts.setdefault(_lever_verdict(speedup, r), []).append(f"{r['lever']} ({_fmt(speedup)}x)")
        rows.append([r["group"], r["lever"], _fmt(r["median_s"], 3), _fmt(r.get("cpu_median_s"), 3),
                     _fmt(speedup) + "x" if speedup else "n/a", _fmt(r.get("max_diff_255")),
                     "reference" if r["group"] == "baseline" else _lever_verdict(speedup, r),
                     r.get("note", "")])
    size = block.get("size")
    lines = [f"### Speed levers on the default generator ({size}x{size}, CPU)", "",
             "Speed-up is against `engine.protect` for the baseline/thread rows and against the plain "
             "`inference_mode` forward for the others; max diff is against the shipped output, in 1/255. "
             "Each lever is timed once per run, so on a loaded machine compare rows with care (the baseline "
             "and the default-threads row run the same code).", ""]
    lines += _table(["group", "lever", "s / image", "CPU s", "speed-up", "max diff (1/255)", "verdict", "note"], rows)
    tiles = block.get("tiling", [])
    if tiles:
        first = tiles[0]["median_s"]
        trows = [[t["lever"], _fmt(t["median_s"]), _fmt(t.get("cpu_median_s")), f"{first / t['median_s']:.2f}x", t.get("note", "")]
                 for t in tiles]
        lines += ["Tile size and tiles per network call (whole-photo time):", ""]
        lines += _table(["tiling", "s / photo", "CPU s", "vs first row", "photo"], trows)
    for verdict in ("helps", "no real effect", "hurts", "changes output"):
        if verdicts.get(verdict):
            lines.append(f"- **{verdict}**: " + "; ".join(verdicts[verdict]))
    lines.append("")
    comp = block.get("compile") or {}
    if comp.get("status") == "ok":
        lines += [f"`torch.compile` (inductor, in a fresh process): first call {_fmt(comp['first_call_s'], 1)} s "
                  f"(compilation), then {_fmt(comp['median_s'], 3)} s vs eager {_fmt(comp['base_s'], 3)} s "
                  f"({comp['base_s'] / comp['median_s']:.2f}x), max diff {_fmt(comp.get('max_diff_255'))}/255.", ""]
    else:
        lines += [f"`torch.compile`: {comp.get('status', 'not tried')}.", ""]
    return lines


def _lever_verdict(speedup: float | None, row: dict) -> str:
    if speedup is None:
        return "n/a"
    if (row.get("max_diff_255") or 0) > 1.0:
        return "changes output"
    if speedup >= 1.10:
        return "helps"
    if speedup <= 0.90:
        return "hurts"
    return "no real effect"


# --- whole document -----------------------------------------------------------------------------


def render_markdown(results: dict) -> str:
    env = results.get("environment") or {}
    cfg = results.get("config") or {}
    lines = ["# Benchmarks", "",
             f"Generated by `{results.get('command', 'python -m bench')}` (`make bench`) on {env.get('date', '?')}; "
             "every figure below comes from that one run (warm-up, then the median of repeats). "
             f"Raw figures: [`{Path('benchmarks.json')}`](benchmarks.json); plot: `benchmarks.png`.", ""]
    if cfg.get("quick"):
        lines += ["> **Quick mode**: tiny sizes and step counts that only prove the machinery runs. "
                  "These numbers are not the benchmark; run `python -m bench` for that.", ""]
    lines += ["## Conditions", "",
              f"- CPU: {env.get('cpu')} — {env.get('logical_cpus')} logical cores, torch threads {env.get('torch_threads')}, "
              f"{env.get('memory_gib', '?')} GiB RAM; GPU: {env.get('cuda') or 'none'}",
              f"- Software: torch {env.get('torch')}, Python {env.get('python')}, {env.get('os')}",
              f"- Load average (1/5/15 min) at start {env.get('load_average_start')}, at end {env.get('load_average_end')}",
              f"- Whole run: {_fmt((results.get('wall_s') or 0) / 60, 1)} min"]
    if results.get("conditions"):
        lines.append(f"- **Conditions**: {results['conditions']}")
    lines += ["- *CPU s* is the CPU time our process used per run (all threads). When other programs compete "
              "for the cores, wall time inflates but CPU s stays near the idle cost, so a wall time far above "
              "CPU s / threads means a loaded machine, not a slow engine.", ""]
    lines += ["## Targets", ""] + _table(["target", "measured", "result"], target_rows(results))
    lines += ["## Results", ""]
    for section in (speed_section, e2e_section, batch_section, checks_section, thumbnails_section, levers_section):
        lines += section(results)
    lines += ["## How to read this", "",
              "- **Engines**: `rid` = `create_engine(\"rid\")` (the shipped compact pixel generator); `dwt-chroma` = "
              "`create_engine(\"dwt-chroma\")`; `pgd-N` = `create_engine(\"iterative\", steps=N)` (TAEF2 surrogate, "
              "random JPEG/resize each step as shipped, 512 px tiles); `official-rid-arch` = "
              "`rid_desktop.engines.rid_dit.OfficialRIDGenerator` (the published RID network's architecture, "
              "340 M parameters) with random weights — the same compute as the real checkpoint — tiled at 512 px "
              "with 64 px stitched overlap exactly like the `rid` engine runs official checkpoints.",
              "- **GFLOP** per image from PyTorch's FLOP counter (convolutions, matrix products, attention); "
              "for PGD it is one clean encoder pass plus N times one attack step. It does not depend on the load.",
              "- **Protection: L2 x noise (MSE)**: the L2 latent ratio `||E(x') - E(x)|| / ||E(n) - E(x)||` on the "
              "TAEF2 encoder, of each engine's own timed outputs against random sign noise `n` with the same "
              "L-inf budget (8/255) on the same photo; in brackets the MSE ratio (its square, "
              "`mean((E(x') - E(x))^2)` over that of the noise, averaged over the photos it protected, column "
              "*images*; the L2 figure is its square root). For "
              "`dwt-chroma` the ratio against random noise confined to the same chroma sub-bands is shown "
              "too. The official architecture has random weights, so its figure only shows what an untrained "
              "network does.",
              "- **12 MP**: for the generators the whole path is measured (`rid_desktop.io.load_image`, "
              "`engine.protect` at native resolution, `rid_desktop.io.save_protected`); PGD and the official "
              "architecture would take minutes to hours, so their 12 MP time is the measured per-512 px-tile "
              "time times the number of tiles the engine runs, plus the measured load/write time, and is "
              "marked *extrapolated*.",
              "- **Memory** is measured in a fresh process per case (Linux `VmHWM`), so cases do not pollute "
              "each other.", ""]
    return "\n".join(lines) + "\n"


def write_plot(results: dict, path: Path) -> bool:
    """Seconds per 512 px image (log scale) and protection vs speed. False if nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    speed = _cpu(results, "speed").get("subjects", {})
    ok = {k: v for k, v in speed.items() if v.get("ok") and v.get("median_s")}
    if not ok:
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    keys = list(ok)
    seconds = [ok[k]["median_s"] for k in keys]
    colours = ["tab:green" if ok[k].get("default") else ("tab:gray" if ok[k].get("extrapolated") else "tab:blue") for k in keys]
    ax1.barh(keys, seconds, color=colours)
    ax1.set_xscale("log")
    ax1.invert_yaxis()
    ax1.set_xlabel("seconds per image (log scale, lower is better)")
    size = _cpu(results, "speed").get("size")
    ax1.set_title(f"Wall-clock time per {size}x{size} photo (CPU)")
    for y, s in enumerate(seconds):
        ax1.text(s, y, f" {s:.3g} s", va="center", fontsize=8)
    if ok.get("rid") and ok.get("rid").get("default"):
        ax1.axvline(1 / TARGETS["images_per_s"], color="tab:red", ls="--", lw=1, label="target 0.25 s")
        ax1.legend(loc="lower right", fontsize=8)
    for k in keys:
        prot = _l2((ok[k].get("protection") or {}).get("ratio_vs_noise"))
        if prot is None:
            continue
        ax2.scatter(ok[k]["images_per_s"], prot, s=60, color="tab:green" if ok[k].get("default") else "tab:blue")
        ax2.annotate(k, (ok[k]["images_per_s"], prot), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax2.set_xscale("log")
    ax2.axhline(1.0, color="gray", ls=":", lw=1)
    ax2.set_xlabel("images per second (log scale)")
    ax2.set_ylabel("L2 latent ratio vs random sign noise (TAEF2)")
    ax2.set_title("Protection vs speed (8/255)")
    conditions = results.get("conditions") or ""
    fig.suptitle(f"RID Desktop benchmarks — {(results.get('environment') or {}).get('cpu', '')} "
                 f"{conditions[:60]}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(results: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_markdown(results))
    write_plot(results, out.with_suffix(".png"))
