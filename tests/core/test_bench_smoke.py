"""The benchmark machinery runs end to end in ``--quick`` mode and writes a readable report.

Quick mode uses tiny images, 2/4 PGD steps and a shrunken official-RID network, so this proves the
code paths (timing, fresh-process memory, protection scoring, report and plot), not the figures.
"""

from __future__ import annotations

import json

import pytest
import torch

from bench import cli, report
from bench.memory import peak_rss_bytes, run_worker
from bench.timing import measure


def test_measure_reports_median_of_repeats_after_warmup():
    calls = []

    def work(i):
        calls.append(i)
        return sum(range(20000))

    timing = measure(work, repeats=3, warmup=2)
    assert calls == [0, 0, 0, 1, 2]  # two warm-up calls (index 0), then the timed runs
    assert timing.repeats == 3 and len(timing.runs_s) == 3
    assert timing.min_s <= timing.median_s <= timing.max_s
    assert timing.per_second == pytest.approx(1 / timing.median_s)


def test_measure_rejects_zero_repeats():
    with pytest.raises(ValueError):
        measure(lambda i: None, repeats=0)


def test_peak_rss_grows_with_a_large_allocation():
    before = peak_rss_bytes()
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    assert peak_rss_bytes() >= before
    assert peak_rss_bytes() > 64 * 2**20
    del block


def test_worker_failure_is_reported_not_raised():
    result = run_worker({"case": "no-such-case"})
    assert result["ok"] is False and "no-such-case" in result["error"]


def test_quick_benchmark_writes_report_plot_and_json(tmp_path, shared_models):
    out = tmp_path / "benchmarks.md"
    code = cli.main(["--quick", "--out", str(out), "--sections", "speed,e2e", "--threads", "1",
                     "--conditions", "smoke test"])
    assert code == 0
    results = json.loads(out.with_suffix(".json").read_text())
    speed = results["speed"]["cpu"]["subjects"]
    for key in ("rid", "dwt-chroma", "official-rid-arch", "pgd-1", "pgd-2"):
        assert speed[key]["ok"], speed[key]
        assert speed[key]["median_s"] > 0
    # Protection is scored on the engines' own outputs, within the budget.
    assert speed["rid"]["protection"]["ratio_vs_noise"] > 0
    assert speed["rid"]["protection"]["linf_255"] <= 8 + 1e-3
    # More PGD steps cost more compute than fewer, and the generator less than both.
    assert speed["pgd-2"]["gflops"] > speed["pgd-1"]["gflops"] > speed["rid"]["gflops"]
    assert speed["rid"]["speedup_vs"]["pgd-2"] == pytest.approx(speed["pgd-2"]["median_s"] / speed["rid"]["median_s"])
    e2e = results["e2e"]["cpu"]["subjects"]
    assert e2e["rid"]["ok"] and e2e["rid"]["measured"], e2e["rid"]
    assert e2e["rid"]["peak_rss_bytes"] >= e2e["rid"]["rss_after_setup_bytes"] > 0
    assert e2e["pgd-2"]["measured"] is False and "tiles" in e2e["pgd-2"]["extrapolated"]
    text = out.read_text()
    assert "## Targets" in text and "Quick mode" in text and "smoke test" in text
    assert "| **rid** |" in text
    assert out.with_suffix(".png").stat().st_size > 1000


def test_report_renders_pass_and_fail_from_results():
    def subject(seconds, **extra):
        return {"ok": True, "median_s": seconds, "images_per_s": 1 / seconds, "cpu_median_s": seconds, **extra}

    results = {
        "config": {"pgd_steps": [20, 100]},
        "speed": {"cpu": {"size": 512, "subjects": {
            "rid": subject(0.2, default=True, speedup_vs={"official-rid-arch": 5.0, "pgd-100": 500.0}),
            "official-rid-arch": subject(1.0),
            "pgd-100": subject(100.0),
        }}},
        "e2e": {"cpu": {"size": [4000, 3000], "megapixels": 12, "subjects": {"rid": {
            "ok": True, "measured": True, "median_s": {"total": 9.0, "load": 0.5, "protect": 8.0, "save": 0.5},
            "peak_rss_bytes": 1.0e9, "rss_after_setup_bytes": 3e8, "runs_total_s": [9.0]}}}},
        "batch": {"sizes": [10, 50], "image_size": [1024, 768], "runs": {
            "10": {"ok": True, "peak_rss_bytes": 500e6, "seconds": 2, "images_per_s": 5, "rss_after_setup_bytes": 3e8},
            "50": {"ok": True, "peak_rss_bytes": 700e6, "seconds": 10, "images_per_s": 5, "rss_after_setup_bytes": 3e8}}},
    }
    rows = {row[0][:12]: row[2] for row in report.target_rows(results)}
    assert rows["Default gene"] == "**pass**"  # 5 images/s >= 4
    assert rows["12 MP photo "] == "**FAIL**"  # 9 s > 8 s
    assert rows["Peak memory "] == "**pass**"  # 1.0 GB <= 1.5 GB
    assert rows[">= 10x faste"] == "**FAIL**"  # 5x < 10x
    assert rows[">= 300x fast"] == "**pass**"
    assert rows["Batch peak m"] == "**FAIL**"  # grew by 40 %
    assert "| **rid** |" in report.render_markdown(results)


def test_preview_cost_times_the_slider_preview_and_the_report_judges_it(shared_models):
    from bench.cases import preview_cost
    from bench.config import BenchConfig

    preview = preview_cost(BenchConfig.quick_config(repeats=1), log=lambda message: None)
    assert preview["hw"] == [96, 128] and preview["timing"]["median_s"] > 0
    verdict = {}
    for seconds in (0.3, 1.7):
        results = {"config": {"pgd_steps": [20, 100]}, "checks": {"size": 96, "checks": {},
                                                                   "preview": dict(preview, timing={"median_s": seconds})}}
        verdict[seconds] = next(row[2] for row in report.target_rows(results) if row[0].startswith("GUI preview"))
    assert verdict == {0.3: "**pass**", 1.7: "**FAIL**"}
    assert "strength-slider preview" in "\n".join(report.checks_section({"checks": {"size": 96, "checks": {},
                                                                                     "preview": preview}}))


def test_trip_bench_judges_a_candidate_beside_the_shipped_generator(tmp_path, make_rgb, shared_models):
    """A retrained generator is compared with the shipped one in the same run, visibility included."""
    from PIL import Image

    from bench import trip
    from rid_desktop.engines.generator_loading import DEFAULT_PIXEL_MODEL, locate

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(make_rgb(96, 128, seed=5)).save(photos / "a.png")
    out = tmp_path / "trip.md"
    assert trip.main([str(photos), "--candidate", str(locate(DEFAULT_PIXEL_MODEL)), "--no-chroma",
                      "--sections", "native", "--threads", "1", "-o", str(out)]) == 0
    rows = {line.split("|")[1].strip(): line for line in out.read_text().splitlines() if line.startswith("| rid")}
    assert set(rows) == {"rid", f"rid (candidate: {locate(DEFAULT_PIXEL_MODEL).stem})"}
    assert "visible vs noise" in out.read_text() and "dwt-chroma" not in out.read_text()


def test_report_leads_with_the_l2_ratio():
    """One metric: the report shows the L2 latent ratio (the stored MSE ratio's square root) first."""
    from bench.report import _protection

    assert _protection(4.0) == "2.00 (4.00)"
    assert _protection(None) == "n/a"


def test_amplitude_sweep_moves_one_generator_along_its_own_curve(tmp_path, make_rgb, shared_models, capsys):
    """A lower rms cap gives a weaker, less visible, higher-PSNR change, and the file is left as found."""
    from PIL import Image

    from bench import amplitude_sweep
    from rid_desktop.engines.generator_loading import DEFAULT_PIXEL_MODEL, load_generator, locate

    photos = tmp_path / "train"
    photos.mkdir()
    for i in range(4):
        Image.fromarray(make_rgb(96, 96, seed=i)).save(photos / f"{i}.png")
    images = torch.cat([torch.from_numpy(make_rgb(64, 64, seed=i)).permute(2, 0, 1)[None] / 255 for i in (1, 3)])
    file = str(locate(DEFAULT_PIXEL_MODEL))
    stored_cap = load_generator(file, DEFAULT_PIXEL_MODEL).config.rms_cap
    high, low = amplitude_sweep.sweep([file], images.float(), [0.6, 0.3])
    assert low["psnr"] > high["psnr"] + 3  # half the rms (where the higher cap binds): up to 6 dB
    assert low["vis1"] < high["vis1"] and low["l2_clean"] < high["l2_clean"]
    assert 0 < low["vis_camera"] < high["vis_camera"]  # the camera-size view scales with the cap too
    assert 0 < low["vis_camera_soft"] < high["vis_camera_soft"]
    (quiet,) = amplitude_sweep.sweep([file], images.float(), [0.6], camera_cap=0.3)
    assert quiet["vis1"] == pytest.approx(high["vis1"])  # small photos keep their cap...
    assert quiet["vis_camera"] < 0.8 * high["vis_camera"]  # ...camera-size ones are scaled down
    assert load_generator(file, DEFAULT_PIXEL_MODEL).config.rms_cap == stored_cap
    assert amplitude_sweep.main([file, "--data", str(photos), "--holdout-every", "2", "--caps", "0.5",
                                 "--crop", "64", "--threads", "1"]) == 0
    assert "| 0.50 / — |" in capsys.readouterr().out
    assert amplitude_sweep.main([str(tmp_path / "missing.safetensors"), "--data", str(photos),
                                 "--holdout-every", "2", "--crop", "64"]) == 2
    assert "model file not found" in capsys.readouterr().err


def test_rank_snapshots_scores_each_step_at_the_reference_visibility(tmp_path, make_rgb, shared_models, capsys):
    """A more visible step is scaled down to the reference's visibility, a less visible one is not scaled
    up (the cap is at the PSNR floor), and the table names the snapshot file of each step."""
    from PIL import Image

    from bench import rank_snapshots
    from rid_desktop.engines.generator_net import GeneratorConfig, build_generator
    from rid_desktop.training.export import save_generator

    ref = {"l2_clean": 1.3, "l2_trip": 1.4, "l2_subtracted": 1.5, "vis1": 1.0}
    loud = {"l2_clean": 1.6, "l2_trip": 1.6, "l2_subtracted": 1.6, "vis1": 1.25}
    quiet = {"l2_clean": 1.35, "l2_trip": 1.45, "l2_subtracted": 1.5, "vis1": 0.8}
    for record, expected in ((loud, (1.28, 1.28, 1.28)), (quiet, (1.35, 1.45, 1.5))):
        row = rank_snapshots.Row("run", 1, *(record[n] for n in rank_snapshots.RATIOS), record["vis1"], None)
        scaled = row.at_reference_visibility(ref["vis1"])
        assert (scaled.clean, scaled.trip, scaled.subtracted) == pytest.approx(expected)

    run = tmp_path / "run"
    (run / "snapshots").mkdir(parents=True)
    (run / "generator.log.jsonl").write_text("".join(json.dumps({"step": s, **r}) + "\n"
                                                     for s, r in ((25, loud), (50, quiet))))
    config = GeneratorConfig(kind="pixel", width=8, depth=2, key_channels=1, rms_cap=0.5)
    save_generator(build_generator(config), config, run / "snapshots" / "step-000050.safetensors")
    ranked = rank_snapshots.rank(rank_snapshots.read_run(run), ref)
    assert [r.step for r in ranked] == [50, 25]  # at equal visibility the quiet step is the stronger
    assert ranked[0].beats(ref) and not ranked[1].beats(ref)
    itself = rank_snapshots.Row("ref", 1, 1.3004, 1.4004, 1.5, 1.0, None)  # the reference's own log line
    assert not itself.beats(ref)
    assert ranked[0].snapshot.name == "step-000050.safetensors" and ranked[1].snapshot is None

    photos = tmp_path / "train"
    photos.mkdir()
    for i in range(4):
        Image.fromarray(make_rgb(200, 200, seed=i)).save(photos / f"{i}.png")
    out = tmp_path / "rank.md"
    assert rank_snapshots.main([str(run), "--data", str(photos), "--holdout-every", "2", "--threads", "1",
                                "--reference", str(run / "snapshots" / "step-000050.safetensors"),
                                "-o", str(out)]) == 0
    table = out.read_text()
    assert "(reference)" in table and "| run | 50 |" in table and "not kept" in table
    capsys.readouterr()
    assert rank_snapshots.main([str(photos), "--data", str(photos)]) == 2
    assert "not a training run folder" in capsys.readouterr().err
