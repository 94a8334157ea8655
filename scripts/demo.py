"""`make demo`: the whole loop in one command.

Starts the app processes that are not running yet (web, input worker, retrain worker with concurrency 1,
reclassify worker, beat; honcho in the background, logs under .local/demo/, stopped by `make stop`),
imports ``<dataset>/train`` with labels from its folders, ingests ``test/`` and ``extra/`` unlabeled, waits
for the retrain and the reclassification, and prints what the classifier says about each image and where
to look at it in the browser.

Dataset: ``--dataset`` or ``../shared/datasets/faces-small`` (relative to the project root); without it,
photos made from images that dependencies ship (scikit-image's astronaut, matplotlib's Grace Hopper).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = ROOT.parent / "shared" / "datasets" / "faces-small"
DEMO_DIR = ROOT / ".local" / "demo"
PID_FILE = DEMO_DIR / "honcho.pid"
UNLABELED_FOLDERS = ("test", "extra")
PROCESSES = {"input": ("ingest", "extract"), "retrain": ("retrain",), "reclassify": ("reclassify",)}

Say = Callable[[str], None]


@dataclass
class Row:
    image: str  # "<folder>/<name>", as in expected.json
    faces: int
    personas: list[str] = field(default_factory=list)  # left to right
    scores: list[float | None] = field(default_factory=list)
    expected: list[str] | None = None

    @property
    def as_expected(self) -> bool | None:
        return None if self.expected is None else sorted(self.personas) == sorted(self.expected)


# --------------------------------------------------------------------------- the loop (tested)


def run_demo(db, dataset: Path, actor: str = "demo", timeout: float = 900.0, say: Say = print) -> list[Row]:
    """Import ``train/`` with labels from folders, ingest the unlabeled folders, wait for retrain and
    reclassification; returns one row per unlabeled image. Re-running it adds nothing (all duplicates)."""
    from common.ingest.requests import start_ingest
    from input_worker import folder_labels

    deadline = time.monotonic() + timeout
    say(f"importing {dataset / 'train'} with labels from folders ...")
    train_job = start_ingest(db, str(dataset / "train"), actor=f"cli:{actor}",
                             options={folder_labels.OPTION: True})  # fmt: skip
    _wait_job(db, train_job, deadline)
    summary = folder_labels.summary(db, train_job)
    per_persona = ", ".join(f"{p} {n}" for p, n in sorted(summary.by_persona.items()))
    say(f"  labeled {summary.labeled} faces ({per_persona}); not labeled {len(summary.not_labeled)}")
    for key, reason in summary.not_labeled:
        say(f"    {key}: {reason}")
    unlabeled: dict[str, str] = {}
    for folder in UNLABELED_FOLDERS:
        if (dataset / folder).is_dir():
            say(f"ingesting {dataset / folder} unlabeled ...")
            unlabeled[folder] = start_ingest(db, str(dataset / folder), actor=f"cli:{actor}")
    for job_id in unlabeled.values():
        _wait_job(db, job_id, deadline)
    say("waiting for the retrain and the reclassification ...")
    version = _wait_training(db, deadline)
    image_ids = _image_ids(db, unlabeled)
    _wait_predictions(db, version, image_ids.values(), deadline)
    say(f"  model version {version} is active; every face has its prediction")
    return _rows(db, image_ids, _expected(dataset))


def _wait_job(db, job_id: str, deadline: float) -> None:
    from common.repositories import jobs
    from input_worker import folder_labels

    while True:
        progress = jobs.progress(db, job_id)
        if progress is not None and progress.done:
            if progress.job.status == "failed":
                raise RuntimeError(f"ingest job {job_id} failed: {progress.job.error}")
            if not folder_labels.enabled(progress.job) or not folder_labels.summary(db, job_id).pending:
                return
        _check(deadline, f"ingest job {job_id} not done: {progress and progress.as_dict()} (input worker running?)")
        time.sleep(0.5)


def _wait_training(db, deadline: float) -> int:
    """Until every training event (labels, personas) is covered by a training; returns the active version."""
    from common.repositories import events
    from common.repositories.models import active_version
    from trainer_worker import state

    while True:
        pending = events.training_events_since(db, state.get(db).last_event_id)
        version = active_version(db)
        if not pending and version is not None:
            return version
        _check(deadline, f"{len(pending)} training event(s) not trained on yet, active model {version} "
                         "(retrain worker running?)")  # fmt: skip
        time.sleep(1.0)


def _image_ids(db, job_ids: dict[str, str]) -> dict[str, str]:
    """{"<folder>/<item key>": image id} of the stored or duplicate items of the unlabeled jobs."""
    from common.repositories import jobs

    out = {}
    for folder, job_id in job_ids.items():
        for item in jobs.items(db, job_id):
            if item.image_id and item.outcome in (jobs.STORED, jobs.DUPLICATE):
                out[f"{folder}/{item.item_key}"] = item.image_id
    return dict(sorted(out.items()))


def _wait_predictions(db, version: int, image_ids, deadline: float) -> None:
    """Until every unlabeled face of the images has a prediction and the active version's refresh (scoped or a
    full pass) has finished: a face outside what a label changed keeps the version that predicted it."""
    from common.repositories import faces, labels, predictions, refreshes
    from common.repositories.models import active_version

    face_ids = [f.face_id for image_id in set(image_ids) for f in faces.for_image(db, image_id)]
    while True:
        version = active_version(db) or version
        refresh = refreshes.get(db, version)
        missing = [
            fid for fid in face_ids
            if labels.confirmed_persona(labels.for_face(db, fid)) is None and predictions.for_face(db, fid) is None
        ]  # fmt: skip
        if not missing and refresh is not None and refresh.finished:
            return
        state = "finished" if refresh and refresh.finished else "not finished"
        _check(deadline, f"{len(missing)} face(s) without a prediction, the refresh of v{version} {state} "
                         "(reclassify worker?)")  # fmt: skip
        time.sleep(1.0)


def _rows(db, image_ids: dict[str, str], expected: dict[str, list[str]]) -> list[Row]:
    from common.repositories import faces, labels, personas, predictions

    names = {p.persona_id: p.name for p in personas.list_all(db)}
    rows = []
    for image, image_id in image_ids.items():
        row = Row(image, 0, expected=expected.get(image))
        for face in sorted(faces.for_image(db, image_id), key=lambda f: f.box[0]):
            row.faces += 1
            confirmed = labels.confirmed_persona(labels.for_face(db, face.face_id))
            prediction = None if confirmed else predictions.for_face(db, face.face_id)
            persona_id = confirmed or (prediction.persona_id if prediction else None)
            row.personas.append(names.get(persona_id, "unknown") if persona_id else "unknown")
            row.scores.append(prediction.score if prediction else None)
        rows.append(row)
    return rows


def _expected(dataset: Path) -> dict[str, list[str]]:
    path = dataset / "expected.json"
    if not path.is_file():
        return {}
    return {k: v for k, v in json.loads(path.read_text()).items() if isinstance(v, list)}


def _check(deadline: float, message: str) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(message)


def format_table(rows: list[Row]) -> str:
    lines = [f"{'image':32} {'faces':>5}  {'predicted personas':44} {'scores':22} expected"]
    for r in rows:
        scores = " ".join("label" if s is None else f"{s:.2f}" for s in r.scores)
        mark = {True: "yes", False: f"NO ({', '.join(r.expected or [])})", None: "-"}[r.as_expected]
        lines.append(f"{r.image[:32]:32} {r.faces:>5}  {', '.join(r.personas)[:44]:44} {scores[:22]:22} {mark}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- built-in photos


def builtin_dataset(folder: Path) -> Path:
    """train/ (two personas), test/ and extra/ with expected.json, from images that dependencies ship."""
    from PIL import Image

    from tests.support.face_images import jpeg_bytes, variant

    def write(relative: str, image: Image.Image) -> None:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(jpeg_bytes(image))

    for i in range(8):  # even: astronaut, odd: grace_hopper
        person, image = variant(i)
        write(f"train/{person}/{person}-{i}.jpg", image)
    expected: dict[str, list[str]] = {}
    for i in range(20, 24):
        person, image = variant(i)
        write(f"test/{person}-{i}.jpg", image)
        expected[f"test/{person}-{i}.jpg"] = [person]
    (_, left), (_, right) = variant(30), variant(31)
    both = Image.new("RGB", (left.width + right.width + 80, max(left.height, right.height) + 80), (128, 128, 128))
    both.paste(left, (40, 40))
    both.paste(right, (left.width + 40, 40))
    write("extra/both.jpg", both)
    expected["extra/both.jpg"] = ["astronaut", "grace_hopper"]
    (folder / "expected.json").write_text(json.dumps(expected, indent=1))
    return folder


# --------------------------------------------------------------------------- app processes


def _running_queues() -> set[str]:
    from common.infra.celery_app import celery_app

    replies = celery_app.control.inspect(timeout=2.0).active_queues() or {}
    return {q["name"] for queues in replies.values() for q in queues}


def _web_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('PP_WEB_PORT', '8000')}"


def _web_up() -> bool:
    try:
        with urllib.request.urlopen(f"{_web_url()}/healthz", timeout=3) as response:
            return response.status < 500
    except OSError:
        return False


def start_processes(say: Say = print, wait: float = 120.0) -> None:
    """Start (honcho, in the background) the app processes whose queues nobody consumes; wait until ready."""
    queues = _running_queues()
    missing = [name for name, needed in PROCESSES.items() if not set(needed) <= queues]
    if not _web_up():
        missing.insert(0, "web")
    if "retrain" in missing:
        missing.append("beat")  # the lost-trigger check belongs with the retrain worker
    if not missing:
        say("app processes already running")
        return
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    log = open(DEMO_DIR / "honcho.log", "ab")  # noqa: SIM115 (the background process keeps it)
    honcho = str(Path(sys.executable).with_name("honcho"))
    proc = subprocess.Popen([honcho, "start", "-f", "Procfile", "-e", ".local/dev.env", *missing], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    PID_FILE.write_text(str(proc.pid))
    say(f"started {', '.join(missing)} (honcho pid {proc.pid}, logs {DEMO_DIR / 'honcho.log'}; `make stop` stops)")
    deadline = time.monotonic() + wait
    while True:
        queues = _running_queues()
        if all(set(PROCESSES[n]) <= queues for n in missing if n in PROCESSES) and _web_up():
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"app processes did not start; see {DEMO_DIR / 'honcho.log'}")
        time.sleep(1.0)


def stop_processes() -> None:
    """Stop what start_processes started (its process group), if it still runs."""
    if PID_FILE.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(PID_FILE.read_text()), signal.SIGTERM)
        PID_FILE.unlink()


def _login() -> tuple[str, str]:
    env_file = ROOT / ".local" / "dev.env"
    if not env_file.exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "dev-env.sh")], check=True, stdout=subprocess.DEVNULL)
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    password = os.environ.get("PP_ADMIN_PASSWORD") or values.get("PP_ADMIN_PASSWORD", "?")
    return os.environ.get("PP_ADMIN_USERNAME", "admin"), password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="folder with train/, test/, extra/")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the whole loop")
    parser.add_argument("--no-start", action="store_true", help="do not start app processes")
    parser.add_argument("--stop", action="store_true", help="stop the app processes a previous demo started")
    args = parser.parse_args(argv)
    if args.stop:
        stop_processes()
        return 0
    os.chdir(ROOT)
    user, password = _login()
    dataset = args.dataset.resolve()
    if not (dataset / "train").is_dir():
        print(f"{dataset} has no train/ folder: using photos made from images that dependencies ship")
        dataset = builtin_dataset(DEMO_DIR / "builtin-dataset")
    if not args.no_start:
        start_processes()
    from common.db import get_database

    started = time.monotonic()
    rows = run_demo(get_database(), dataset, timeout=args.timeout)
    print()
    print(format_table(rows))
    checked = [r for r in rows if r.as_expected is not None]
    if checked:
        print(f"\n{sum(bool(r.as_expected) for r in checked)}/{len(checked)} images as expected.json says "
              f"({time.monotonic() - started:.0f} s)")  # fmt: skip
    print(f"\n  web      {_web_url()}   login {user} / {password}   (from .local/dev.env)")
    print("  stop     make stop   (app processes and Cassandra + Redis)")
    return 0 if all(r.as_expected is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
