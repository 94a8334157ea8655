"""Benchmark (not a test): the raw detector+embedder loop vs the full system on the same images and cores.

    python -m benchmarks.extraction [--n 200] [--source ../shared/datasets/faces-small] [--processes 2]

(a) raw: one process per core reads, validates, detects and embeds each image directly, run once
    before and once after (b) (the mean is (a): it brackets the drift of a shared machine's speed);
(b) system: `start_ingest` of the same folder through real Celery workers (ingest + extract),
    Cassandra and the blob store, until the job is done. Measured in steady state, as the system runs
    for real: a warm-up job of other images (a tenth of N, at least 20) first loads the models in every
    worker process and warms Cassandra (a JVM compiles its hot paths in the first minutes), as the raw
    loop warms every process before it is timed.
Prints images/s of both and the ratio (b)/(a) (goal >= 0.90). Uses its own keyspace, Redis DB and
blob folder, dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.isolated import ROOT, isolated

DEFAULT_SOURCE = ROOT.parent / "shared" / "datasets" / "faces-small"


def source_images(folder: Path | None) -> list[np.ndarray]:
    """Every readable image under ``folder``, or astronaut and Grace Hopper when there is none."""
    from common.face_models import decode_rgb

    out = []
    if folder and folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                try:
                    out.append(decode_rgb(path.read_bytes()))
                except ValueError:
                    continue
    if not out:
        from matplotlib.cbook import get_sample_data
        from skimage.data import astronaut

        with get_sample_data("grace_hopper.jpg") as fh:
            out = [astronaut(), np.asarray(Image.open(fh).convert("RGB"))]
    return out


def generate(sources: list[np.ndarray], n: int, folder: Path, seed: int = 7) -> None:
    """N varied JPEGs: flips, scales, crops and two-image collages of the sources."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = sources[int(rng.integers(len(sources)))]
        kind = i % 4
        if kind == 1:
            img = img[:, ::-1]
        elif kind == 2:
            h, w = img.shape[:2]
            dy, dx = int(rng.integers(0, max(1, h // 8))), int(rng.integers(0, max(1, w // 8)))
            img = img[dy : h - int(rng.integers(0, max(1, h // 8))), dx : w - int(rng.integers(0, max(1, w // 8)))]
        elif kind == 3:
            other = sources[int(rng.integers(len(sources)))]
            height = max(img.shape[0], other.shape[0])
            canvas = np.full((height, img.shape[1] + other.shape[1], 3), 110, np.uint8)
            canvas[: img.shape[0], : img.shape[1]] = img
            canvas[: other.shape[0], img.shape[1] :] = other
            img = canvas
        scale = float(rng.uniform(0.6, 1.4))
        pil = Image.fromarray(np.ascontiguousarray(img))
        pil = pil.resize((max(32, round(pil.width * scale)), max(32, round(pil.height * scale))))
        # A per-image pixel nudge keeps every file distinct (no duplicates in the system run).
        pil.putpixel((0, 0), (i % 256, (i // 256) % 256, seed % 256))  # and from another seed's set
        pil.save(folder / f"img-{i:05d}.jpg", quality=90)


def _raw_init() -> None:
    from common.face_models import get_detector, get_embedder
    from common.settings import get_settings

    settings = get_settings()
    get_detector(settings.face_detector.value, settings)
    get_embedder()


def _raw_one(path: str) -> int:
    from common.face_models import extract_faces
    from common.settings import get_settings
    from input_worker.validation import load_image

    data = Path(path).read_bytes()
    return len(extract_faces(load_image(data, path, get_settings()).rgb))


def run_raw(files: list[str], processes: int) -> tuple[float, int]:
    with get_context("fork").Pool(processes, initializer=_raw_init) as pool:
        pool.map(_raw_one, files[: processes * 2])  # warm up every process
        started = time.perf_counter()
        faces = sum(pool.map(_raw_one, files, chunksize=1))
        return time.perf_counter() - started, faces


def tree_rss_kb(root_pid: int) -> int:
    """Resident memory (kB) of a process and its children (a Celery worker and its pool)."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        pid, ppid = int(fields["Pid"]), int(fields["PPid"])
        if (pid == root_pid or ppid == root_pid) and "VmRSS" in fields:
            total += int(fields["VmRSS"].split()[0])
    return total


class PeakMemory:
    """Samples a process tree's RSS in a thread; ``peak_mb`` is the highest sample."""

    def __init__(self, pid: int, interval: float = 0.2):
        import threading

        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak_kb / 1024, 1)


def run_system(folder: Path, processes: int, warmup: Path) -> tuple[float, int, float]:
    from common.db import get_database
    from common.ingest_requests import start_ingest
    from common.repositories import jobs

    celery = str(Path(sys.executable).with_name("celery"))
    worker = subprocess.Popen(
        [celery, "-A", "input_worker.app", "worker", "-Q", "ingest,extract", "--concurrency", str(processes),
         "-n", f"bench-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    db = get_database()
    try:
        _wait(db, start_ingest(db, str(warmup), "bench"), jobs)  # workers up, models loaded, Cassandra warm
        with PeakMemory(worker.pid) as memory:
            started = datetime.now(UTC)
            job_id = start_ingest(db, str(folder), "bench")
            progress = _wait(db, job_id, jobs)
        return (_finished_at(db, job_id) - started).total_seconds(), progress.counts["faces"], memory.peak_mb
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(60)


def _finished_at(db, job_id: str) -> datetime:
    """When the job's last item was recorded: the end of (b) to the millisecond, not to the next poll."""
    from common.repositories.jobs import BUCKETS

    rows = db.execute("SELECT updated_at FROM ingest_job_items WHERE job_id = ? AND bucket IN ?",
                      (job_id, list(range(BUCKETS))), fetch_size=5000)  # fmt: skip
    return max(row.updated_at for row in rows).replace(tzinfo=UTC)


def _wait(db, job_id: str, jobs, timeout: float = 3600):
    deadline = time.monotonic() + timeout
    while True:
        progress = jobs.progress(db, job_id)
        if progress and progress.done:
            return progress
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} not done")
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="images to generate")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder of seed images")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="processes (default: cores)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--redis-url", default=os.environ.get("PP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    args = parser.parse_args(argv)

    redis_db = int(args.redis_url.rsplit("/", 1)[-1] or 15)
    with isolated(redis_db, "extract") as work:
        from common.settings import get_settings

        settings = get_settings()
        images = work / "images"
        generate(source_images(args.source), args.n, images)
        generate(source_images(args.source), max(20, args.n // 10), work / "warmup", seed=99)
        files = sorted(str(p) for p in images.iterdir())
        print(f"{len(files)} images, {args.processes} processes, detector {settings.face_detector.value}")
        # (a) runs before and after (b): a shared machine's speed drifts over minutes, and the mean of the
        # two brackets the system run instead of favouring whichever came first.
        before_s, raw_faces = run_raw(files, args.processes)
        print(f"(a) raw loop, before: {before_s:7.2f} s  {len(files) / before_s:6.2f} images/s  {raw_faces} faces")
        sys_s, sys_faces, peak_mb = run_system(images, args.processes, work / "warmup")
        print(f"(b) full system:      {sys_s:7.2f} s  {len(files) / sys_s:6.2f} images/s  {sys_faces} faces")
        after_s, _ = run_raw(files, args.processes)
        print(f"(a) raw loop, after:  {after_s:7.2f} s  {len(files) / after_s:6.2f} images/s")
        raw_s = (before_s + after_s) / 2
        print(f"ratio (b)/(a): {raw_s / sys_s:.3f}  (goal >= 0.90; (a) = mean of before and after)")
        print(f"input worker peak RSS (parent + {args.processes} pool processes): {peak_mb} MB")
        if args.json:
            args.json.write_text(json.dumps({
                "images": len(files), "processes": args.processes, "detector": settings.face_detector.value,
                "raw_s": round(raw_s, 2), "raw_images_per_s": round(len(files) / raw_s, 2), "raw_faces": raw_faces,
                "raw_before_s": round(before_s, 2), "raw_after_s": round(after_s, 2),
                "system_s": round(sys_s, 2), "system_images_per_s": round(len(files) / sys_s, 2),
                "system_faces": sys_faces, "ratio": round(raw_s / sys_s, 3), "worker_peak_rss_mb": peak_mb,
            }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
