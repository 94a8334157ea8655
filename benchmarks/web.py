"""Web benchmark: persona page and image page latency under concurrent clients, with a large corpus.

    from benchmarks.web import run
    run(db, faces=100_000, clients=50, seconds=20)   # -> {"persona_page": {...}, "image_page": {...}, ...}

    python -m benchmarks.web [--faces N] [--clients C] [--seconds S] [--json out.json]

``run`` writes a synthetic corpus into ``db``'s keyspace (give it a throw-away one; it refuses a keyspace
that already holds faces), serves the app under gunicorn as deployed (``visualization_web/gunicorn_conf.py``:
the PP_WEB_* settings, which ``--workers``, ``--worker-class`` and ``--threads`` override) on 127.0.0.1, logs
in once and has wrk (``benchmarks/web_load.py``, ``web_load.lua``) keep ``clients`` connections busy with that
session cookie, one page kind at a time, for ``seconds`` after a warm-up that is not counted (``--rounds``:
the pages in turn, that many times, pooled). The pages come from the
rendered-page cache once seen (``visualization_web/page_cache.py``); ``--no-page-cache`` measures the
uncached path. Run as a module it makes and drops its own keyspace, blob folder and Redis DB.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import astuple, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.web_load import cpu_probe_ms, prime, summarize, wrk_window
from common.db import Database
from common.infra.settings import get_settings
from common.repositories import read_model

ROOT = Path(__file__).resolve().parent.parent
PERSONAS = 300
FACES_PER_IMAGE = 4
CONFIRMED_PER_PERSONA = 40
UNKNOWN_SHARE = 0.1
MODEL_VERSION = 1
CHUNK = 5000


def _progress(message: str) -> None:
    print(f"[web bench] {message}", flush=True)


def _jpeg(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    pixels = np.linspace(0, 255, width * height * 3).reshape(height, width, 3).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def seed_corpus(db: Database, faces: int, personas: int = PERSONAS) -> dict:
    """Personas, images, faces (synthetic embeddings), confirmed labels and predictions of one active model."""
    from common.repositories import face_cards, ids, labels, predictions
    from common.repositories import faces as faces_repo
    from common.repositories import images as images_repo
    from common.repositories import personas as personas_repo
    from common.storage import content_key, get_blob_store, sha256_hex

    if db.one("SELECT face_id FROM faces LIMIT 1") is not None:
        raise ValueError(f"keyspace {db.keyspace} already holds faces: give the benchmark a throw-away keyspace")
    started = time.perf_counter()
    store = get_blob_store()
    picture, crop = _jpeg(640, 480), _jpeg(150, 150)
    blob_key = content_key("images", sha256_hex(picture), ".jpg")
    crop_key = content_key("crops", sha256_hex(crop), ".jpg")
    store.put_if_absent(blob_key, picture)
    store.put_if_absent(crop_key, crop)

    persona_ids = [personas_repo.create(db, f"Bench Person {i:04d}", "bench").persona_id for i in range(personas)]
    _progress(f"{personas} personas")
    rng = np.random.default_rng(5)
    centers = rng.normal(size=(personas, 128)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    now = datetime.now(UTC)
    image_ids: list[str] = []
    confirmed_so_far = [0] * personas
    for lo in range(0, faces, CHUNK):
        count = min(CHUNK, faces - lo)
        image_rows, face_rows, by_image, label_rows, prediction_rows = [], [], [], [], []
        for index in range(lo, lo + count):
            image_id = f"bench-image-{index // FACES_PER_IMAGE:07d}"
            slot = index % FACES_PER_IMAGE
            if slot == 0:
                image_ids.append(image_id)
                image = images_repo.Image(image_id, blob_key, "bench", f"bench/{image_id}.jpg", len(picture), 640,
                                          480, "JPEG", images_repo.PROCESSED, FACES_PER_IMAGE, None, None, None,
                                          now, now)  # fmt: skip
                image_rows.append(image)
            box = (10 + slot * 155, 100, 150, 150)
            face_id = ids.face_id(image_id, box)
            who = int(rng.integers(personas))
            vector = centers[who] + rng.normal(0, 0.05, 128).astype(np.float32)
            face_rows.append((face_id, image_id, *box, faces_repo.encode_embedding(vector), crop_key, now))
            by_image.append((image_id, face_id, *box, crop_key, now))
            if confirmed_so_far[who] < CONFIRMED_PER_PERSONA:
                confirmed_so_far[who] += 1
                label_rows.append((face_id, persona_ids[who], image_id))
                continue
            unknown = rng.random() < UNKNOWN_SHARE
            score = float(rng.uniform(0.3, 1.0))
            prediction_rows.append((face_id, None if unknown else persona_ids[who], score, image_id))
        columns = [f.name for f in fields(images_repo.Image)]
        db.execute_many(f"INSERT INTO images ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                        [astuple(image) for image in image_rows], concurrency=96)  # fmt: skip
        db.execute_many(images_repo.CARD_CQL, [images_repo.card_params(image, now) for image in image_rows],
                        concurrency=96)  # each image's card (migration 0007)  # fmt: skip
        db.execute_many(
            "INSERT INTO faces (face_id, image_id, box_left, box_top, box_width, box_height, detector, det_score, "
            "embedding, embedder, crop_key, created_at) VALUES (?, ?, ?, ?, ?, ?, 'bench', 0.99, ?, 'bench-128', ?, ?)",
            face_rows, concurrency=96)  # fmt: skip
        db.execute_many(
            "INSERT INTO faces_by_image (image_id, face_id, box_left, box_top, box_width, box_height, detector, "
            "det_score, crop_key, card_since) VALUES (?, ?, ?, ?, ?, ?, 'bench', 0.99, ?, ?)",
            by_image, concurrency=96)  # fmt: skip
        db.execute_many(
            "INSERT INTO labels_by_face (face_id, persona_id, verdict, labeled_by, labeled_at) "
            "VALUES (?, ?, 'confirm', 'bench', ?)",
            [(f, p, now) for f, p, _ in label_rows], concurrency=96)  # fmt: skip
        db.execute_many(face_cards.LABEL_CQL, [face_cards.label_row(i, f, p, "confirm", "bench")
                                               for f, p, i in label_rows], concurrency=96)  # fmt: skip
        db.execute_many(
            "INSERT INTO labels_by_persona (persona_id, bucket, face_id, verdict, labeled_by, labeled_at) "
            "VALUES (?, ?, ?, 'confirm', 'bench', ?)",
            [(p, ids.bucket_of(f, labels.BUCKETS), f, now) for f, p, _ in label_rows], concurrency=96)  # fmt: skip
        predictions.put_many(db, [predictions.Prediction(f, p, s, 0.4, MODEL_VERSION, i, now)
                                  for f, p, s, i in prediction_rows], replace_old=False)  # fmt: skip
        _progress(f"{lo + count}/{faces} faces ({time.perf_counter() - started:.0f} s)")
    db.execute("INSERT INTO active_model (name, version, updated_at) VALUES (?, ?, ?)", ("default", MODEL_VERSION, now))
    return {"persona_ids": [str(p) for p in persona_ids], "image_ids": image_ids,
            "seed_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


# --- the server ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(keyspace: str, password: str, port: int, workers: int, worker_class: str, threads: int,
                   log_path: Path | None = None, page_cache: bool = True) -> subprocess.Popen:  # fmt: skip
    """The web app as deployed (``visualization_web.gunicorn_conf``), with its PP_WEB_* settings given here."""
    env = {**os.environ, "PP_CASSANDRA_KEYSPACE": keyspace, "PP_ADMIN_PASSWORD": password,
           "PP_ADMIN_USERNAME": "admin", "PP_WEB_SECRET_KEY": secrets.token_hex(16), "PP_WEB_WORKERS": str(workers),
           "PP_WEB_WORKER_CLASS": worker_class, "PP_WEB_THREADS": str(threads)}  # fmt: skip
    if not page_cache:
        env["PP_PAGE_CACHE_SECONDS"] = "0"
    log = open(log_path or os.devnull, "ab")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:visualization_web.gunicorn_conf",
         "--bind", f"127.0.0.1:{port}", "visualization_web.app:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz?live=1")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("gunicorn did not answer in 60 s")


def _cookie(response: http.client.HTTPResponse) -> str:
    for header in response.headers.get_all("Set-Cookie") or []:
        if header.startswith("pp_session="):
            return header.split(";", 1)[0]
    return ""


def login(port: int, password: str) -> str:
    """Log in through the form (CSRF token included); the session cookie as a Cookie header value."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = _cookie(response)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": "admin", "password": password, "csrf_token": token})
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    conn.request("POST", "/login", body=form, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 302:
        raise RuntimeError(f"login failed with {response.status}")
    return _cookie(response)


def existing_corpus(db: Database) -> dict:
    """Persona and image ids of a corpus seeded before (``--reuse``): all of them, as a fresh run loads, so
    the page cache sees as many distinct pages."""
    from common.repositories import personas as personas_repo

    rows = db.execute("SELECT image_id FROM images", fetch_size=5000)
    return {"persona_ids": [str(p.persona_id) for p in personas_repo.list_all(db)], "seed_seconds": 0,
            "image_ids": [r.image_id for r in rows]}  # fmt: skip


def run(db: Database, faces: int = 100_000, clients: int = 50, seconds: float = 20,
        personas: int = PERSONAS, log_path: Path | None = None, think: float = 0.0,
        reuse: bool = False, warmup: float = 5.0, page_cache: bool = True, paced: float = 1.0,
        workers: int | None = None, worker_class: str | None = None, threads: int | None = None,
        only: str | None = None, rounds: int = 1, cold_image_rounds: bool = False) -> dict:  # fmt: skip
    """Seed, serve, load; returns per-page p50/p95/p99 (ms) and requests/s, plus the set-up figures.
    ``think``: each client's pause between requests (0 = closed-loop stress); ``reuse``: the keyspace
    already holds a corpus seeded by this module; ``page_cache=False``: the server renders every page;
    ``rounds``: after each page's warm-up, the pages are measured in turn, ``seconds`` each, that many
    times, and each page's figures pool its rounds (a slow spell of the machine then weighs on both pages
    alike, and on one round in several); ``cold_image_rounds``: each image-page round starts as after a
    label (the read-model generation bumped, so no page rendered before it is served): random draws from
    thousands of images fill the page cache as the run goes on, so without it each round would measure a
    warmer cache than the last; the few hundred persona pages, which a moment of use caches again, are
    each loaded once (``prime``, not counted) before each of their later rounds; ``paced`` > 0: each
    page is loaded once more with that think time (``<page>_paced``), like people reviewing rather than
    scripts hammering."""
    if reuse:
        corpus = existing_corpus(db)
    else:
        _progress(f"seeding {faces} faces, {personas} personas into keyspace {db.keyspace}")
        corpus = seed_corpus(db, faces, personas)
    settings = get_settings()
    workers = workers or settings.web_workers
    worker_class = worker_class or str(settings.web_worker_class)
    threads = threads or settings.web_threads
    password, port = secrets.token_urlsafe(16), _free_port()
    server = start_gunicorn(db.keyspace, password, port, workers, worker_class, threads, log_path=log_path,
                            page_cache=page_cache)  # fmt: skip
    try:
        cookie = login(port, password)
        results: dict = {"faces": faces, "personas": personas, "clients": clients, "seconds": seconds, "think": think,
                         "seed_seconds": corpus["seed_seconds"],
                         "server": f"gunicorn, {workers} {worker_class} workers"
                         + (f" x {threads} threads" if worker_class == "gthread" else ""), "load": "wrk, closed loop",
                         "page_cache": page_cache, "warmup_seconds": warmup, "rounds": rounds,
                         "cold_image_rounds": cold_image_rounds}  # fmt: skip
        pages = {"persona_page": [f"/personas/{p}" for p in corpus["persona_ids"]],
                 "image_page": [f"/images/{i}" for i in corpus["image_ids"]]}  # fmt: skip
        if only:
            pages = {only: pages[only]}
        with tempfile.TemporaryDirectory() as folder:
            files = {name: Path(folder, f"{name}.txt") for name in pages}
            for name, paths in pages.items():
                files[name].write_text("\n".join(paths) + "\n")
                if warmup > 0:
                    _progress(f"{name}: warm-up, {clients} clients for {warmup:g} s")
                    wrk_window(port, cookie, files[name], clients, warmup, think)
            stale: set[str] = set()  # pages whose cached renders the last cold image round made stale

            def measure(name: str, think_s: float) -> dict:
                if cold_image_rounds and name == "image_page":
                    read_model.changed(db)  # as after a label: no page rendered before is served
                    stale.update(other for other in pages if other != name)
                elif name in stale:  # the persona pages cached again, as a moment of use does (not counted)
                    prime(port, cookie, pages[name])
                    stale.discard(name)
                return wrk_window(port, cookie, files[name], clients, seconds, think_s)

            windows: dict[str, list[dict]] = {name: [] for name in pages}
            probes = []
            for round_ in range(1, rounds + 1):
                probes.append(cpu_probe_ms())
                for name in pages:
                    windows[name].append(measure(name, think))
                    _progress(f"{name}, round {round_}/{rounds}: {summarize(windows[name][-1:])}")
            results.update({name: summarize(found) for name, found in windows.items()})
            results["cpu_probe_ms"] = probes
            for name in pages if paced > 0 else ():
                _progress(f"{name}: {clients} clients pausing {paced:g} s (±50 %) between requests, {seconds:g} s")
                results[f"{name}_paced"] = summarize([measure(name, paced)])
                _progress(f"{name}_paced: {results[f'{name}_paced']}")
        results["paced_think_seconds"] = paced
        return results
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--personas", type=int, default=PERSONAS)
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--think", type=float, default=0.0, help="seconds each client pauses between requests")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring, per page")
    parser.add_argument("--rounds", type=int, default=1, help="measure the pages in turn this many times, pooled")
    parser.add_argument(
        "--cold-image-rounds",
        action="store_true",
        help="each image-page round starts as after a label (nothing cached)",
    )
    parser.add_argument("--paced", type=float, default=1.0, help="think time of a second, paced pass (0: none)")
    parser.add_argument("--no-page-cache", action="store_true", help="render every page (PP_PAGE_CACHE_SECONDS=0)")
    parser.add_argument("--workers", type=int, help="gunicorn worker processes (default: PP_WEB_WORKERS)")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], help="default: PP_WEB_WORKER_CLASS")
    parser.add_argument("--threads", type=int, help="threads per gthread worker (default: PP_WEB_THREADS)")
    parser.add_argument("--only", choices=["persona_page", "image_page"], help="load one page kind")
    parser.add_argument("--keep", action="store_true", help="keep the keyspace (printed) for profiling")
    parser.add_argument("--reuse", metavar="KEYSPACE", help="load a corpus kept with --keep (no seeding)")
    args = parser.parse_args(argv)
    from common.db.migrate import migrate
    from common.db.session import connect
    from common.storage import get_blob_store

    keyspace = args.reuse or f"pp_bench_web_{uuid.uuid4().hex[:8]}"
    os.environ.update({"PP_CASSANDRA_KEYSPACE": keyspace,
                       "PP_STORAGE_LOCAL_ROOT": f"/tmp/{keyspace}-blobs",
                       "PP_REDIS_URL": os.environ.get("PP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")})  # fmt: skip
    get_settings.cache_clear()
    get_blob_store.cache_clear()
    settings = get_settings()
    cluster, session = connect(settings)
    migrate(session, keyspace, settings.cassandra_replication)
    db = Database.connect(settings, keyspace)
    try:
        result = run(db, args.faces, args.clients, args.seconds, args.personas, Path(f"/tmp/{keyspace}-gunicorn.log"),
                     think=args.think, reuse=bool(args.reuse), warmup=args.warmup,
                     page_cache=not args.no_page_cache, paced=args.paced, workers=args.workers,
                     worker_class=args.worker_class, threads=args.threads, only=args.only,
                     rounds=args.rounds, cold_image_rounds=args.cold_image_rounds)  # fmt: skip
    finally:
        db.close()
        if not (args.keep or args.reuse):
            session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
            import shutil

            shutil.rmtree(f"/tmp/{keyspace}-blobs", ignore_errors=True)
        cluster.shutdown()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
