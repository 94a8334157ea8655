"""`make bench`: run every benchmark once, on this machine, and write docs/benchmarks.md.

Each benchmark runs in its own process and throw-away keyspace / Redis DB; figures that are ratios
(extraction: full system vs raw loop) are measured within one run of that benchmark.

    python -m benchmarks.run [--quick] [--only extraction,training,...] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.isolated import ROOT

# name -> (module, full-size arguments, quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "extraction": ("benchmarks.extraction", ["--n", "200"], ["--n", "40", "--passes-n", "10", "--groups", "1"]),
    "recall": ("benchmarks.recall", [], ["--limit", "8", "--sizes", "100,160", "--collages", "1"]),
    "ingest_only": ("benchmarks.ingest_only", ["--n", "300"], ["--n", "60"]),
    "training": (
        "benchmarks.training",
        ["--faces", "20000", "--personas", "50", "--labeled", "2000"],
        ["--faces", "2000", "--personas", "10", "--labeled", "200", "--fit-sizes", "1000:10"],
    ),
    "latency": ("benchmarks.latency", ["--faces", "3000", "--personas", "20"], ["--faces", "500"]),
    "predict_scale": ("benchmarks.predict_scale", ["--prototypes", "100000", "--personas", "10000"],
                      ["--prototypes", "30000", "--personas", "3000", "--queries", "1000", "--exact-queries", "500"]),
    "scale": ("benchmarks.scale", ["--faces", "100000", "--personas", "1000", "--labeled", "10000",
                                    "--predict-prototypes", "0"],
              ["--faces", "20000", "--personas", "200", "--labeled", "2000", "--predict-prototypes", "0"]),
    "scoped": ("benchmarks.scoped", ["--faces", "100000", "--personas", "1000"],
               ["--faces", "5000", "--personas", "50", "--confirms", "4", "--rejects", "4"]),
    "web": ("benchmarks.web", ["--faces", "100000", "--clients", "50", "--seconds", "10", "--warmup", "20",
                                "--rounds", "3", "--cold-image-rounds"],
            ["--faces", "5000", "--clients", "10", "--seconds", "5"]),
}  # fmt: skip


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_gib = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    except OSError:
        mem_gib = 0
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def run_one(name: str, quick: bool) -> tuple[str, dict | None, float, str]:
    module, full, small = BENCHMARKS[name]
    args = small if quick else full
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    command = [sys.executable, "-m", module, *args, "--json", str(out)]
    shown = f"python -m {module} {' '.join(args)}"
    print(f"==> {shown}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT)
    elapsed = time.perf_counter() - started
    result = json.loads(out.read_text()) if proc.returncode == 0 and out.stat().st_size else None
    out.unlink(missing_ok=True)
    return shown, result, elapsed, "" if result else f"exit {proc.returncode}"


def _table(rows: list[tuple[str, str]]) -> str:
    return "\n".join(["| figure | value |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows)])


def render(results: dict, info: dict, quick: bool) -> str:
    out = [
        "# Benchmarks",
        "",
        f"Produced by `make bench` (`python -m benchmarks.run{' --quick' if quick else ''}`) on "
        f"{info['date']}, on this machine: {info['machine']['cpu']}, {info['machine']['cores']} cores, "
        f"{info['machine']['memory_gib']} GiB, Python {info['machine']['python']}. Cassandra 5.0 and Redis "
        "run on the same machine (the same 2 cores), as in `make run`. Re-run with `make bench`; each "
        "section names the command that produced it and when it ran. Ratios are measured within one run.",
    ]
    sections = {
        "extraction": "Extraction: full system vs the raw dlib loop",
        "recall": "Extraction recall on hard images (sideways, thumbnails, group photos)",
        "ingest_only": "Ingest only (read, validate, store; no extraction)",
        "training": "Retrain and reclassify",
        "latency": "Label -> refreshed predictions",
        "predict_scale": "Predict against many prototypes (index vs exact scan)",
        "scale": "Scale: sharded full pass, retrain, row sizes (full size: docs/capacity.md)",
        "scoped": "Scoped refresh: label -> affected faces re-predicted (full size: docs/capacity.md)",
        "web": "Page latency under load",
    }
    for name, title in sections.items():
        if name not in results:
            continue
        command, data, elapsed, error = results[name]
        when = f"{elapsed:.0f} s, {info['date']}, {info['machine']['cpu']}"
        out += ["", f"## {title}", "", f"Command: `{command}` ({when})", ""]
        if data is None:
            out.append(f"Failed: {error}")
            continue
        out.append(describe(name, data))
    return "\n".join(out) + "\n"


def describe(name: str, d: dict) -> str:
    if name == "extraction":
        return _table([
            ("images (generated flips, scales, crops, collages)", d["images"]),
            ("processes (one per core)", d["processes"]),
            ("detector", d["detector"]),
            ("(a) raw loop: detector + embedder called directly",
             f"{d['raw_images_per_s']} images/s ({d['raw_faces']} faces)"),
            ("(b) full system: ingest -> extract via Celery, Cassandra, blob store",
             f"{d['system_images_per_s']} images/s ({d['system_faces']} faces)"),
            ("**ratio (b)/(a)** (goal >= 0.90)", f"**{d['ratio']}**"),
            ("rounds, interleaved a b, b a, ... (seconds of (a) / (b) each)",
             ", ".join(f"{r['raw_s']} / {r['system_s']}" for r in d.get("rounds", []))),
            ("input worker peak RSS (parent + pool)", f"{d['worker_peak_rss_mb']} MB"),
            *extra_pass_rows(d),
        ])  # fmt: skip
    if name == "recall":
        return _table([(f"{kind}: faces found", f"{v['found']} / {v['faces']} ({v['found_pct']} %), "
                                                 f"{v['seconds_per_image']} s/image")
                       for kind, v in d["variants"].items()])  # fmt: skip
    if name == "ingest_only":
        return _table([
            ("images", f"{d['images']} ({d['megabytes']} MB)"),
            ("worker processes", d["worker_processes"]),
            ("**throughput**", f"**{d['images_per_s']} images/s**"),
        ])  # fmt: skip
    if name == "training":
        rows = [(f"fit + evaluate, {f['labeled_faces']} labeled / {f['personas']} personas (in memory)",
                 f"fit {f['fit_s']} s, evaluate {f['evaluate_s']} s, predict {f['predict_faces_per_s']} faces/s")
                for f in d.get("fit", [])]  # fmt: skip
        if "db" in d:
            db = d["db"]
            rows += [
                (f"**retrain** ({db['faces']} faces, {db['personas']} personas, {db['labeled']} labeled, Cassandra)",
                 f"**{db['retrain_s']} s**"),
                ("**reclassify** (all unlabeled faces, Cassandra reads + writes)",
                 f"**{db['reclassify_faces_per_s']} faces/s** ({db['reclassified']} in {db['reclassify_s']} s)"),
            ]  # fmt: skip
        return _table(rows)
    if name == "latency":
        return _table([
            ("faces / personas", f"{d['faces']} / {d['personas']}"),
            ("retrain quiet period (coalescing, PP_RETRAIN_QUIET_SECONDS)", f"{d['quiet_period_s']} s"),
            ("one confirm -> new model promoted", f"{d['label_to_promoted_s']} s"),
            (f"**one confirm -> its {d['refresh']} refresh done** ({d['faces_refreshed']} of {d['unlabeled']} "
             "unlabeled faces re-predicted)", f"**{d['label_to_refreshed_s']} s**"),
        ])  # fmt: skip
    if name == "predict_scale":
        index = d.get("index") or {}
        return _table([
            ("prototypes / personas / queries (2 faces per image)",
             f"{d['prototypes']} / {d['personas']} / {d['queries']}"),
            ("index", f"{index.get('kind')}, nlist {index.get('nlist')}, nprobe {index.get('nprobe')}, "
                      f"top-k {index.get('top_k')}" if index else "none (below the threshold: exact scan)"),
            ("fit (of which the index alone)", f"{d['fit_s']} s ({d['index_build_s']} s)"),
            ("artifact (of which the index)", f"{d['artifact_mb']} MB ({d['index_in_artifact_mb']} MB)"),
            ("exact scan", f"{d['exact_faces_per_s']} faces/s ({d['exact_faces_per_cpu_s']} per CPU second)"),
            ("**indexed** (goal >= 2,000 faces/s at 1M prototypes)",
             f"**{d['indexed_faces_per_s']} faces/s** ({d['indexed_faces_per_cpu_s']} per CPU second)"),
            (f"**identical to exact** (persona or unknown, {d['exact_queries']} faces; goal >= 99.5 %)",
             f"**{d['agreement_pct']} %**"),
            ("peak RSS", f"{d['peak_rss_mb']} MB"),
        ])  # fmt: skip
    if name == "scale":
        return _table(scale_rows(d))
    if name == "scoped":
        return _table(scoped_rows(d))
    if name == "web":
        rows = [("corpus", f"{d.get('faces')} faces"), ("concurrent clients", d.get("clients"))]
        rows.append(("server", d.get("server", "")))
        rounds = d.get("rounds", 1)
        cold = (", each image-page round as after a label (no page cached before it)"
                if d.get("cold_image_rounds") else "")  # fmt: skip
        rows.append(("load", f"{d.get('load', '')}, warm-up {d.get('warmup_seconds')} s per page (not counted), "
                             f"then {rounds} round(s) of {d.get('seconds')} s per page, pages in turn, pooled{cold}; "
                             f"page cache {'on' if d.get('page_cache', True) else 'off'}"))  # fmt: skip
        if d.get("cpu_probe_ms"):
            rows.append(("machine speed before each round: CPU ms of a fixed Python loop (lower is faster)",
                         " / ".join(str(ms) for ms in d["cpu_probe_ms"])))  # fmt: skip
        think = d.get("paced_think_seconds")
        for page, stats in d.items():
            if not page.endswith(("_page", "_page_paced")):
                continue
            how = f"{think} s think time" if page.endswith("_paced") else "closed loop, no think time"
            name = page.removesuffix("_paced").replace("_", " ")
            rows.append((f"**{name}** p50 / p95 / p99, {how} (goal p95 <= 150 ms)",
                         f"**{stats.get('p50_ms')} / {stats.get('p95_ms')} / {stats.get('p99_ms')} ms**, "
                         f"{stats.get('rps')} req/s, {stats.get('errors')} errors"))  # fmt: skip
            if stats.get("rounds_p95_ms"):
                rows.append((f"{name}, closed loop, each round: p95 ms (req/s)",
                             " / ".join(f"{p} ({r})" for p, r in zip(stats["rounds_p95_ms"], stats["rounds_rps"],
                                                                     strict=True))))  # fmt: skip
        return _table(rows)
    return "```json\n" + json.dumps(d, indent=1) + "\n```"


def extra_pass_rows(d: dict) -> list[tuple[str, object]]:
    """The extraction benchmark's cost of the extra detection passes (issue 31), raw loop, same run."""
    if "passes" not in d:
        return []
    rows: list[tuple[str, object]] = [
        ("**normal photos: raw loop with / without the extra passes** (goal >= 0.90)",
         f"**{d['raw_images_per_s']} / {d['old_images_per_s']} images/s = {d['new_vs_old']}**"),
    ]  # fmt: skip
    for name, p in d["passes"].items():
        rows.append((f"{name}: with / without the extra passes (time factor)",
                     f"{p['new_images_per_s']} / {p['old_images_per_s']} images/s (x{p['time_factor']}), "
                     f"faces {p['new_faces']} / {p['old_faces']}"))  # fmt: skip
    return rows


def scoped_rows(d: dict) -> list[tuple[str, object]]:
    """The scoped-refresh benchmark's figures (benchmarks.scoped)."""
    t, share, audit = d["label_to_refreshed_s"], d["share_rescored_per_label"], d["audit_pass"]
    return [
        ("faces / personas / confirmed labels", f"{d['faces']} / {d['personas']} / {d['labeled']}"),
        ("first model: full pass (builds the index of all faces)", f"{d['first_full_pass']['seconds']} s"),
        ("labels (confirms and rejects, one at a time)", f"{len(d['labels'])}, {d['scoped_refreshes']} scoped"),
        ("retrain quiet period (PP_RETRAIN_QUIET_SECONDS)", f"{d['quiet_period_s']} s"),
        ("**label -> refreshed** p50 / p95 / max", f"**{t['p50']} / {t['p95']} / {t['max']} s**"),
        ("of which training p50 / refresh p50", f"{d['training_s_p50']} s / {d['refresh_s_p50']} s"),
        ("**faces re-predicted per label** mean / max", f"**{share['mean']:.3%} / {share['max']:.3%}**"),
        ("**audit pass afterwards: decisions changed**",
         f"**{audit['decisions_changed']} ({audit['decisions_changed_share']:.4%})**, "
         f"{audit['faces_written']} scores rewritten, {audit['seconds']} s"),
    ]  # fmt: skip


def scale_rows(d: dict) -> list[tuple[str, object]]:
    """The scale benchmark's figures (benchmarks.scale), also used by docs/capacity.md's numbers."""
    rows: list[tuple[str, object]] = [
        ("faces / personas / confirmed labels", f"{d['faces']} / {d['personas']} / {d['labeled']}"),
        ("retrain", f"{d['retrain']['seconds']} s, peak RSS {d['retrain']['peak_rss_mb']} MB"),
        ("largest model_versions row / per-persona metrics row (goal <= 64 KB)",
         f"{d['largest_row_bytes']['model_versions']} / {d['largest_row_bytes']['model_persona_metrics']} bytes"),
        ("BLAS/FAISS threads per worker process (PP_WORKER_THREADS; 0: every core)", d.get("worker_threads", 0)),
    ]  # fmt: skip
    if "indexing_pass" in d:
        rows.append(("first full pass, 2 workers, not compared: it builds the index of all faces",
                     f"{d['indexing_pass']['faces_per_s']} faces/s"))  # fmt: skip
    for workers in (1, 2):
        p = d[f"pass_{workers}"]
        shards = max((mb for pids in p["worker_peak_rss_mb"].values() for mb in pids.values()), default=0)
        rows += [
            (f"**full pass, {workers} worker process(es)**",
             f"**{p['faces_per_s']} faces/s** ({p['seconds']} s, {p['progress']['shards_total']} shards)"),
            (f"pass with {workers}: peak RSS fan-out / largest worker process (goals 300 / 500 MB at 1M faces)",
             f"{p['fan_out']['peak_rss_mb']} / {shards} MB"),
            (f"pass with {workers}: Redis used memory before / peak / after (goal: grows <= 50 MB)",
             f"{p['redis_mb']['before']} / {p['redis_mb']['peak']} / {p['redis_mb']['after']} MB"),
        ]  # fmt: skip
    rows.append(("**2 workers / 1 worker** (goal >= 1.7)", f"**{d['pass_ratio_2_vs_1']}**"))
    if "predict" in d:
        rows.append(("predict (benchmarks.predict_scale)",
                     f"{d['predict']['indexed_faces_per_s']} faces/s at {d['predict']['prototypes']} prototypes, "
                     f"{d['predict']['agreement_pct']} % identical to exact"))  # fmt: skip
    return rows


def _sections(text: str) -> tuple[str, dict[str, str]]:
    """(the text before the first "## " heading, heading -> its section with the heading)."""
    head, *parts = text.split("\n## ")
    return head, {part.split("\n", 1)[0]: "## " + part.rstrip("\n") for part in parts}


def merge_sections(old: str, new: str, keep_head: bool = False) -> str:
    """``new``, plus the sections of ``old`` it does not have (a run of a subset, ``--only``, and sections
    measured by other commands, such as the container image's, are kept). ``keep_head``: the text above the
    sections stays ``old``'s (a subset does not re-date the page; its sections carry their own date)."""
    head, fresh = _sections(new)
    old_head, kept = _sections(old)
    head = old_head if keep_head else head
    merged = {**kept, **fresh}
    order = [*fresh, *(title for title in kept if title not in fresh)]
    return "\n\n".join([head.rstrip("\n"), *(merged[title] for title in order)]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", default="", help="comma-separated subset of " + ",".join(BENCHMARKS))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    names = [n for n in (args.only.split(",") if args.only else BENCHMARKS) if n]
    info = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine()}
    results = {name: run_one(name, args.quick) for name in names}
    text = render(results, info, args.quick)
    if args.out.exists():
        text = merge_sections(args.out.read_text(), text, keep_head=bool(args.only))
    args.out.write_text(text)
    print(text)
    return 0 if all(r[1] is not None for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
