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

The cost of the extra detection passes (issue 31) is measured in the same run, by the raw loop: every round
also runs (a) with those passes switched off by settings (``old``: the path before them), so the normal
photos' images/s of the new and old paths come from the same minutes; then ``--passes-n`` no-face images
(generated textures of the same sizes), sideways photos (turned 90 or 270 degrees, no EXIF) and
``--groups`` 4,000 px group collages (faces of 40-120 px) run through both, halves in the order
old new, new old.
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


def textures(sizes: list[tuple[int, int]], folder: Path, seed: int = 11) -> list[Path]:
    """No-face JPEGs of the given (width, height): smooth colour fields with shapes and grain."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (width, height) in enumerate(sizes):
        coarse = rng.integers(0, 256, (max(2, height // 64), max(2, width // 64), 3), dtype=np.uint8)
        field = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)).astype(np.int16)
        for _ in range(12):  # rectangles: edges for the detector to look at
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            field[y : y + int(rng.integers(10, height // 3 + 11)), x : x + int(rng.integers(10, width // 3 + 11))] += (
                int(rng.integers(-60, 61)))  # fmt: skip
        field += rng.integers(-12, 13, field.shape, dtype=np.int16)
        path = folder / f"texture-{i:05d}.jpg"
        Image.fromarray(field.clip(0, 255).astype(np.uint8)).save(path, quality=90)
        out.append(path)
    return out


def sideways(files: list[Path], folder: Path) -> list[Path]:
    """The photos turned 90 or 270 degrees (alternately) and saved without an EXIF tag."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, path in enumerate(files):
        with Image.open(path) as image:
            turned = image.transpose(Image.Transpose.ROTATE_270 if i % 2 else Image.Transpose.ROTATE_90)
            turned.save(folder / path.name, quality=90)
        out.append(folder / path.name)
    return out


def group_collages(sources: list[np.ndarray], count: int, folder: Path) -> list[Path]:
    """4,000 x 3,000 px collages of the sources' faces at 40-120 px (``benchmarks.recall.collage``)."""
    from benchmarks.recall import collage, reference_boxes

    folder.mkdir(parents=True, exist_ok=True)
    faces = [(rgb, box) for rgb in sources for box in reference_boxes(rgb)]
    rng = np.random.default_rng(5)
    out = []
    for i in range(count if faces else 0):
        canvas, _boxes = collage(faces, rng)
        Image.fromarray(canvas).save(folder / f"group-{i:03d}.jpg", quality=90)
        out.append(folder / f"group-{i:03d}.jpg")
    return out


def pass_costs(raw: RawLoop, sets: dict[str, list[Path]]) -> dict[str, dict]:
    """Each set through the raw loop with the extra passes off (old) and on (new), halves in the order
    old new, new old; images/s of both and the time factor new/old."""
    out = {}
    for name, files in sets.items():
        if not files:
            continue
        halves = [[str(p) for p in files[: (len(files) + 1) // 2]], [str(p) for p in files[(len(files) + 1) // 2 :]]]
        seconds, faces = {"old": 0.0, "new": 0.0}, {"old": 0, "new": 0}
        for half, order in zip(halves, (("old", "new"), ("new", "old")), strict=True):
            for kind in order if half else ():
                took, found = raw.run(half, old=kind == "old")
                seconds[kind] += took
                faces[kind] += found
        out[name] = {"images": len(files), "old_images_per_s": round(len(files) / seconds["old"], 3),
                     "new_images_per_s": round(len(files) / seconds["new"], 3), "old_faces": faces["old"],
                     "new_faces": faces["new"], "time_factor": round(seconds["new"] / seconds["old"], 2)}  # fmt: skip
        print(f"{name}: {len(files)} images, old {out[name]['old_images_per_s']} images/s ({faces['old']} faces), "
              f"new {out[name]['new_images_per_s']} images/s ({faces['new']} faces), "
              f"time x{out[name]['time_factor']}")  # fmt: skip
    return out


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


# The extra passes switched off: detection as before issue 31.
OLD_PATH = {"detection_orientation_search": False, "detection_min_side": 0, "detection_tile_min_face": 0}


def _raw_one(path: str, old: bool = False) -> int:
    from common.face_models import find_faces
    from common.images import load_image
    from common.infra.settings import get_settings

    settings = get_settings().model_copy(update=OLD_PATH) if old else get_settings()
    data = Path(path).read_bytes()
    return len(find_faces(load_image(data, path, settings).rgb, None, settings).faces)  # as the extract task does


def _raw_old(path: str) -> int:
    return _raw_one(path, old=True)


class RawLoop:
    """(a): a pool of one process per core with the models loaded, kept for every round."""

    def __init__(self, processes: int, warmup: list[str]):
        self.pool = get_context("fork").Pool(processes, initializer=_raw_init)
        self.pool.map(_raw_one, warmup[: processes * 2])  # warm up every process

    def run(self, files: list[str], old: bool = False) -> tuple[float, int]:
        started = time.perf_counter()
        faces = sum(self.pool.map(_raw_old if old else _raw_one, files, chunksize=1))
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
    parser.add_argument("--passes-n", type=int, default=40, help="no-face and sideways images for the pass costs")
    parser.add_argument("--groups", type=int, default=2, help="4,000 px group collages for the pass costs")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--redis-url", default=os.environ.get("PP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    args = parser.parse_args(argv)

    redis_db = int(args.redis_url.rsplit("/", 1)[-1] or 15)
    with isolated(redis_db, "extract") as work:
        from common.infra.settings import get_settings

        settings = get_settings()
        images = work / "images"
        seeds = source_images(args.source)
        generate(seeds, args.n, images)
        generate(seeds, args.warmup_images or max(20, args.n // 4), work / "warmup", seed=99)
        generate(seeds, args.passes_n, work / "upright", seed=55)
        upright = sorted((work / "upright").glob("*.jpg"))
        sizes = [Image.open(path).size for path in upright]
        hard = {"no-face images (textures of the same sizes)": textures(sizes, work / "textures"),
                "sideways photos (turned 90 / 270, no EXIF)": sideways(upright, work / "sideways"),
                "group collages (4,000 x 3,000 px, faces 40-120 px)": group_collages(seeds, args.groups,
                                                                                      work / "groups")}  # fmt: skip
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
                for kind in ("raw", "old", "system") if index % 2 == 0 else ("system", "old", "raw"):
                    if kind == "raw":
                        round_["raw_s"], round_["raw_faces"] = raw.run([str(p) for p in files])
                    elif kind == "old":
                        round_["old_s"], round_["old_faces"] = raw.run([str(p) for p in files], old=True)
                    else:
                        round_["system_s"], round_["system_faces"] = system.run(files[0].parent)
                figures.append(round_)
                print(f"round {index + 1}: {len(files)} images, (a) {round_['raw_s']:6.2f} s "
                      f"({round_['raw_faces']} faces), (b) {round_['system_s']:6.2f} s ({round_['system_faces']} faces)"
                      f", ratio {round_['raw_s'] / round_['system_s']:.3f}, "
                      f"(a) old path {round_['old_s']:6.2f} s")  # fmt: skip
        finally:
            system.close()
        try:
            passes = pass_costs(raw, hard)
        finally:
            raw.close()
        raw_s, sys_s = sum(r["raw_s"] for r in figures), sum(r["system_s"] for r in figures)
        raw_faces, sys_faces = sum(r["raw_faces"] for r in figures), sum(r["system_faces"] for r in figures)
        print(f"(a) raw loop:    {raw_s:7.2f} s  {count / raw_s:6.2f} images/s  {raw_faces} faces")
        print(f"(b) full system: {sys_s:7.2f} s  {count / sys_s:6.2f} images/s  {sys_faces} faces")
        print(f"ratio (b)/(a): {raw_s / sys_s:.3f}  (goal >= 0.90; over {len(rounds)} interleaved rounds)")
        old_s = sum(r["old_s"] for r in figures)
        print(f"(a) old path (extra passes off): {old_s:7.2f} s  {count / old_s:6.2f} images/s; "
              f"new / old images/s {old_s / raw_s:.3f} (goal >= 0.90)")  # fmt: skip
        print(f"input worker peak RSS (parent + {args.processes} pool processes): {system.memory.peak_mb} MB")
        if args.json:
            args.json.write_text(json.dumps({
                "images": count, "processes": args.processes, "detector": settings.face_detector.value,
                "rounds": [{k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()} for r in figures],
                "raw_s": round(raw_s, 2), "raw_images_per_s": round(count / raw_s, 2), "raw_faces": raw_faces,
                "system_s": round(sys_s, 2), "system_images_per_s": round(count / sys_s, 2),
                "system_faces": sys_faces, "ratio": round(raw_s / sys_s, 3),
                "worker_peak_rss_mb": system.memory.peak_mb,
                "old_images_per_s": round(count / old_s, 2), "old_faces": sum(r["old_faces"] for r in figures),
                "new_vs_old": round(old_s / raw_s, 3), "passes": passes,
            }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
