"""Benchmark (not a test): the raw detector+embedder loop vs the full system on the same images and cores.

    python -m benchmarks.extraction [--n 200] [--rounds 4] [--source ../shared/datasets/faces-small] [--processes 2]

(a) raw: one process per core reads, validates, detects and embeds each image directly;
(b) system: `start_ingest` of the same images through real Celery workers (ingest + extract),
    Cassandra and the blob store, until the job is done. Measured in steady state, as the system runs
    for real: a warm-up job of other images (a quarter of N, at least 20) first loads the models in every
    worker process and warms Cassandra (a JVM compiles its hot paths in the first minutes), as the raw
    loop warms every process before it is timed.
The N images are split into ``--rounds`` parts; each part is run by (a) and by (b), in the order
a b, b a, a b, b a, ... A shared machine's speed drifts by 10-20% over minutes: interleaved, and in that
mirrored order, the drift falls on (a) and (b) alike instead of on whichever ran in the slower minutes.
Prints images/s of both and the ratio (b)/(a) over all rounds (goal >= 0.90). Uses its own keyspace,
Redis DB and blob folder, dropped afterwards.
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
    from common.images import InvalidImage, load_image
    from common.infra.settings import get_settings

    out = []
    if folder and folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                try:
                    out.append(load_image(path.read_bytes(), path.name, get_settings()).rgb)
                except InvalidImage:
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


def split_rounds(folder: Path, rounds: int) -> list[list[Path]]:
    """The generated images moved into ``rounds`` sub-folders (one ingest job each), every round a mix of
    every kind of variation; the files of each round."""
    files = sorted(folder.glob("*.jpg"))  # consecutive files cycle through the kinds of variation
    out = []
    for index in range(rounds):
        part = folder / f"round-{index + 1}"
        part.mkdir()
        share = files[index * len(files) // rounds : (index + 1) * len(files) // rounds]
        out.append([path.rename(part / path.name) for path in share])
    return out


def _raw_init() -> None:
    from common.face_models import get_detector, get_embedder
    from common.infra.settings import get_settings

    settings = get_settings()
    get_detector(settings.face_detector.value, settings)
    get_embedder()


def _raw_one(path: str) -> int:
    from common.face_models import extract_faces
    from common.images import load_image
    from common.infra.settings import get_settings

    data = Path(path).read_bytes()
    return len(extract_faces(load_image(data, path, get_settings()).rgb))


class RawLoop:
    """(a): a pool of one process per core with the models loaded, kept for every round."""

    def __init__(self, processes: int, warmup: list[str]):
        self.pool = get_context("fork").Pool(processes, initializer=_raw_init)
        self.pool.map(_raw_one, warmup[: processes * 2])  # warm up every process

    def run(self, files: list[str]) -> tuple[float, int]:
        started = time.perf_counter()
        faces = sum(self.pool.map(_raw_one, files, chunksize=1))
        return time.perf_counter() - started, faces

    def close(self) -> None:
        self.pool.close()
        self.pool.join()


def tree_rss_kb(root_pid: int) -> int:
    """Resident memory (kB) of a process and its children (a Celery worker and its pool). Reads only that
    tree's status files (not every process's: the sampler runs during (b) and must cost next to nothing)."""
    total = 0
    for pid in [root_pid, *_children(root_pid)]:
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
                break
    return total


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return out


class PeakMemory:
    """Samples a process tree's RSS in a thread; ``peak_mb`` is the highest sample."""

    def __init__(self, pid: int, interval: float = 0.5):
        import threading

        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak_kb / 1024, 1)


# The end of (b) is read from the items (``_finished_at``), so the poll only has to notice the end; each poll
# reads every item of the job (O(items): about 2% of a core at 0.5 s for 200 items), work the raw loop does not do.
POLL_SECONDS = 2.0


class SystemRun:
    """(b): one input worker (ingest + extract queues) for every round; each round is one ingest job."""

    def __init__(self, processes: int, warmup: Path):
        from common.db import get_database
        from common.ingest.requests import start_ingest

        celery = str(Path(sys.executable).with_name("celery"))
        self.worker = subprocess.Popen(
            [celery, "-A", "input_worker.app", "worker", "-Q", "ingest,extract", "--concurrency", str(processes),
             "-n", f"bench-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle", "--loglevel",
             "WARNING"],
            cwd=ROOT, start_new_session=True,
        )  # fmt: skip
        self.memory = PeakMemory(self.worker.pid)
        self.db, self.start_ingest = get_database(), start_ingest
        try:
            self._wait(self.start_ingest(self.db, str(warmup), "bench"))  # up, models loaded, Cassandra warm
        except BaseException:
            self.close()
            raise
        self.memory.start()

    def run(self, folder: Path) -> tuple[float, int]:
        started = datetime.now(UTC)
        job_id = self.start_ingest(self.db, str(folder), "bench")
        progress = self._wait(job_id, interval=POLL_SECONDS)
        return (_finished_at(self.db, job_id) - started).total_seconds(), progress.counts["faces"]

    def _wait(self, job_id: str, interval: float = 0.5, timeout: float = 3600):
        from common.repositories import jobs

        deadline = time.monotonic() + timeout
        while True:
            progress = jobs.progress(self.db, job_id)
            if progress and progress.done:
                return progress
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} not done")
            time.sleep(interval)

    def close(self) -> None:
        self.memory.stop()
        os.killpg(self.worker.pid, 15)
        self.worker.wait(60)


def _finished_at(db, job_id: str) -> datetime:
    """When the job's last item was recorded: the end of (b) to the millisecond, not to the next poll."""
    from common.repositories.jobs import BUCKETS

    rows = db.execute("SELECT updated_at FROM ingest_job_items WHERE job_id = ? AND bucket IN ?",
                      (job_id, list(range(BUCKETS))), fetch_size=5000)  # fmt: skip
    return max(row.updated_at for row in rows).replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="images to generate")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved (a)/(b) rounds the images are split in")
    parser.add_argument(
        "--warmup-images",
        type=int,
        default=0,
        help="images of the warm-up job before the rounds (default: a quarter of N, at least 20)",
    )
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder of seed images")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="processes (default: cores)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--redis-url", default=os.environ.get("PP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    args = parser.parse_args(argv)

    redis_db = int(args.redis_url.rsplit("/", 1)[-1] or 15)
    with isolated(redis_db, "extract") as work:
        from common.infra.settings import get_settings

        settings = get_settings()
        images = work / "images"
        generate(source_images(args.source), args.n, images)
        generate(source_images(args.source), args.warmup_images or max(20, args.n // 4), work / "warmup", seed=99)
        rounds = split_rounds(images, max(1, min(args.rounds, args.n)))
        count = sum(len(files) for files in rounds)
        print(f"{count} images in {len(rounds)} rounds, {args.processes} processes, "
              f"detector {settings.face_detector.value}")  # fmt: skip
        raw = RawLoop(args.processes, sorted(str(p) for p in (work / "warmup").iterdir()))
        system = SystemRun(args.processes, work / "warmup")
        figures = []
        try:
            for index, files in enumerate(rounds):
                round_ = {"images": len(files)}
                for kind in ("raw", "system") if index % 2 == 0 else ("system", "raw"):
                    if kind == "raw":
                        round_["raw_s"], round_["raw_faces"] = raw.run([str(p) for p in files])
                    else:
                        round_["system_s"], round_["system_faces"] = system.run(files[0].parent)
                figures.append(round_)
                print(f"round {index + 1}: {len(files)} images, (a) {round_['raw_s']:6.2f} s "
                      f"({round_['raw_faces']} faces), (b) {round_['system_s']:6.2f} s ({round_['system_faces']} faces)"
                      f", ratio {round_['raw_s'] / round_['system_s']:.3f}")  # fmt: skip
        finally:
            system.close()
            raw.close()
        raw_s, sys_s = sum(r["raw_s"] for r in figures), sum(r["system_s"] for r in figures)
        raw_faces, sys_faces = sum(r["raw_faces"] for r in figures), sum(r["system_faces"] for r in figures)
        print(f"(a) raw loop:    {raw_s:7.2f} s  {count / raw_s:6.2f} images/s  {raw_faces} faces")
        print(f"(b) full system: {sys_s:7.2f} s  {count / sys_s:6.2f} images/s  {sys_faces} faces")
        print(f"ratio (b)/(a): {raw_s / sys_s:.3f}  (goal >= 0.90; over {len(rounds)} interleaved rounds)")
        print(f"input worker peak RSS (parent + {args.processes} pool processes): {system.memory.peak_mb} MB")
        if args.json:
            args.json.write_text(json.dumps({
                "images": count, "processes": args.processes, "detector": settings.face_detector.value,
                "rounds": [{k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()} for r in figures],
                "raw_s": round(raw_s, 2), "raw_images_per_s": round(count / raw_s, 2), "raw_faces": raw_faces,
                "system_s": round(sys_s, 2), "system_images_per_s": round(count / sys_s, 2),
                "system_faces": sys_faces, "ratio": round(raw_s / sys_s, 3),
                "worker_peak_rss_mb": system.memory.peak_mb,
            }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
