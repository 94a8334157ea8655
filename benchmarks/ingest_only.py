"""Ingest-only throughput: read, validate, store and record images (no face extraction).

    python -m benchmarks.ingest_only [--n 300] [--json out.json]

A worker consumes only the `ingest` queue; the clock stops when every discovered file has an outcome
(stored / duplicate / rejected). The extract tasks it sends wait in their queue and are discarded.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.isolated import isolated


def measure(n: int, work: Path) -> dict:
    from common.db import get_database
    from common.ingest.requests import start_ingest
    from common.repositories import jobs
    from tests.support.face_images import write_folder
    from tests.support.workers import WorkerProcess

    folder = work / "images"
    write_folder(folder, n)
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    db = get_database()
    worker = WorkerProcess("input_worker.app", "ingest", "bench-ingest", concurrency=2, log_dir=work).start()
    try:
        started = time.perf_counter()
        job_id = start_ingest(db, str(folder), "bench")
        while True:
            progress = jobs.progress(db, job_id)
            c = progress.counts if progress else {}
            settled = c.get("stored", 0) + c.get("duplicate", 0) + c.get("rejected", 0)
            if progress and progress.job.discovered is not None and settled >= progress.job.discovered:
                break
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
    finally:
        worker.stop()
    return {
        "images": n,
        "megabytes": round(size_mb, 1),
        "seconds": round(elapsed, 2),
        "images_per_s": round(n / elapsed, 1),
        "stored": c.get("stored", 0),
        "worker_processes": 2,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with isolated(12, "ingest") as work:
        result = measure(args.n, work)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
