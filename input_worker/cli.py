"""`persona-pipeline ingest PATH_OR_SHARE_URL [--no-wait]`: start an ingest job and follow its progress."""

from __future__ import annotations

import argparse
import getpass
import sys
import time

from tqdm import tqdm

from common.db import get_database
from common.infra.celery_app import celery_app
from common.infra.messages import ReextractImage, send
from common.infra.settings import DetectorName, get_settings
from common.ingest.requests import start_ingest
from common.ingest.sources import SourceRefused
from common.repositories import images as images_repo
from common.repositories import jobs
from input_worker import folder_labels
from input_worker.reextract import reextract_image


def register(subparsers) -> None:
    p = subparsers.add_parser("ingest", help="ingest images from a folder, an Azure Files share or an image URL")
    p.add_argument("source", help="folder path, azurefiles://<share>/<dir>, https://<acct>.file.core.windows.net/…")
    p.add_argument("--no-wait", action="store_true", help="print the job id and return")
    p.add_argument("--detector", choices=[d.value for d in DetectorName], help="override PP_FACE_DETECTOR")
    p.add_argument("--timeout", type=float, default=0, help="give up waiting after this many seconds (0: never)")
    p.add_argument("--labels-from-folders", action="store_true",
                   help="each sub-folder name is a persona (created if missing); the single face of each image in "
                        "it is confirmed as that persona")  # fmt: skip
    p.set_defaults(func=cmd_ingest)

    p = subparsers.add_parser("reextract", help="re-run face extraction, keeping labeled faces and their history")
    p.add_argument("image_ids", nargs="*", help="images to re-extract")
    p.add_argument("--all", action="store_true", help="every image")
    p.add_argument(
        "--no-faces",
        action="store_true",
        help="every processed image with no face found (sideways photos stored before the search)",
    )
    p.add_argument("--detector", choices=[d.value for d in DetectorName], help="override PP_FACE_DETECTOR")
    p.add_argument("--here", action="store_true", help="run in this process instead of sending worker tasks")
    p.set_defaults(func=cmd_reextract)


def cmd_ingest(args: argparse.Namespace) -> int:
    db = get_database()
    options: dict = {"detector": args.detector} if args.detector else {}
    if args.labels_from_folders:
        options[folder_labels.OPTION] = True
    try:
        job_id = start_ingest(db, args.source, actor=f"cli:{getpass.getuser()}", options=options)
    except SourceRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    if args.no_wait:
        print(job_id)
        return 0
    print(f"job {job_id}", file=sys.stderr)
    return follow(db, job_id, args.timeout)


def follow(db, job_id: str, timeout: float = 0, interval: float = 1.0) -> int:
    """Show a progress bar until the job is done; print a summary and each rejected file's reason."""
    deadline = time.monotonic() + timeout if timeout else None
    bar = tqdm(desc="ingest", unit="img", dynamic_ncols=True)
    try:
        while True:
            progress = jobs.progress(db, job_id)
            if progress is None:
                print(f"job {job_id} not found", file=sys.stderr)
                return 1
            c = progress.counts
            bar.total = progress.job.discovered
            bar.n = c["duplicate"] + c["rejected"] + c["extracted"]
            bar.set_postfix(discovered=progress.job.discovered or 0, stored=c["stored"], duplicates=c["duplicate"],
                            rejected=c["rejected"], faces=c["faces"], refresh=False)  # fmt: skip
            bar.refresh()
            if progress.done and not _labels_pending(db, progress.job):
                break
            if deadline and time.monotonic() > deadline:
                print(f"\ngave up waiting after {timeout}s; job {job_id} goes on", file=sys.stderr)
                return 2
            time.sleep(interval)
    finally:
        bar.close()
    summary = progress.as_dict()
    if progress.job.status == "failed":
        print(f"job failed: {progress.job.error}", file=sys.stderr)
        return 1
    print(
        f"discovered {summary['discovered']}, stored {summary['stored']}, duplicates {summary['duplicates']}, "
        f"rejected {summary['rejected']}, faces {summary['faces']}"
    )
    for item in sorted(jobs.items(db, job_id), key=lambda i: i.item_key):
        if item.outcome == jobs.REJECTED:
            print(f"  rejected {item.item_key}: {item.reason}")
    if folder_labels.enabled(progress.job):
        print_label_summary(folder_labels.summary(db, job_id))
    return 0


def _labels_pending(db, job) -> int:
    return folder_labels.summary(db, job.job_id).pending if folder_labels.enabled(job) else 0


def print_label_summary(summary: folder_labels.Summary) -> None:
    reasons = ", ".join(f"{kind}: {n}" for kind, n in sorted(summary.reasons().items()))
    print(f"labeled {summary.labeled}, not labeled {len(summary.not_labeled)}" + (f" ({reasons})" if reasons else ""))
    for persona, n in sorted(summary.by_persona.items()):
        print(f"  {persona}: {n} face{'s' if n != 1 else ''}")
    for key, reason in summary.not_labeled:
        print(f"  not labeled {key}: {reason}")


def cmd_reextract(args: argparse.Namespace) -> int:
    if not args.image_ids and not args.all and not args.no_faces:
        print("give image ids, --all or --no-faces", file=sys.stderr)
        return 2
    db = get_database()
    actor = f"cli:{getpass.getuser()}"
    if args.image_ids:
        ids = iter(args.image_ids)
    elif args.no_faces:
        ids = images_repo.scan_ids_without_faces(db, page_size=1000)
    else:
        ids = images_repo.scan_ids(db, page_size=1000)
    count = 0
    for image_id in ids:
        if args.here:
            print(reextract_image(db, image_id, get_settings(), args.detector, actor))
        else:
            send(ReextractImage(image_id=image_id, detector=args.detector, actor=actor), celery_app.send_task)
        count += 1
    print(f"{'re-extracted' if args.here else 'sent'} {count} image(s)")
    return 0
