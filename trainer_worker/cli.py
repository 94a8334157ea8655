"""`persona-pipeline models list|promote VERSION|rollback|resign|pin VERSION|unpin VERSION`,
`persona-pipeline retrain [--wait]` and `persona-pipeline reclassify [--audit]`.

``models resign`` is the upgrade path for versions trained before artifacts were signed
(PP_ARTIFACT_HMAC_KEY): it signs every unsigned artifact whose key and SHA-256 still match its row.
Run it once, as an operator who trusts the current database and blob store; otherwise retrain instead.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time

from common.classifier import ArtifactIntegrityError, registry
from common.classifier.signing import SigningKeyMissing
from common.db import get_database
from common.infra import messages
from common.infra.celery_app import celery_app
from common.labeling.retrain_trigger import request_retrain
from common.repositories import events
from common.repositories import models as models_repo
from trainer_worker.training import run_training


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def cmd_models(args: argparse.Namespace) -> int:
    db = get_database()
    try:
        if args.action == "list":
            versions = models_repo.list_versions(db, limit=args.limit)
            return _print_versions(versions, models_repo.active_version(db), args)
        if args.action == "history":
            for h in models_repo.history(db, limit=args.limit):
                print(f"{h.at:%Y-%m-%d %H:%M:%S}  {h.action:<12} v{h.version} (was v{h.previous_version})  "
                      f"{h.actor}: {h.reason}")  # fmt: skip
            return 0
        if args.action == "promote":
            if args.version is None:
                print("promote needs a VERSION", file=sys.stderr)
                return 2
            registry.promote(db, args.version, _actor(), reason=args.reason or "manual promotion")
            print(f"v{args.version} is active; the predictions it changes are being refreshed")
            return 0
        if args.action == "resign":
            everything = [v.version for v in models_repo.list_versions(db)]
            versions = [args.version] if args.version is not None else everything
            signed = [v for v in versions if registry.resign(db, v)]
            print(f"signed {len(signed)} artifact(s): {', '.join(f'v{v}' for v in signed) or 'none needed'}")
            return 0
        if args.action in ("pin", "unpin"):
            if args.version is None:
                print(f"{args.action} needs a VERSION", file=sys.stderr)
                return 2
            registry.pin(db, args.version, args.action == "pin")
            print(f"v{args.version} {'pinned: kept by retention' if args.action == 'pin' else 'unpinned'}")
            return 0
        if args.action == "rollback":
            target = registry.rollback(db, _actor())
            print(f"rolled back: v{target} is active; the predictions it changes are being refreshed")
            return 0
    except (registry.RegistryError, ArtifactIntegrityError, SigningKeyMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 2


def _print_versions(versions, active, args) -> int:
    if args.json:
        print(json.dumps([v.__dict__ for v in versions], default=str, indent=2))
        return 0
    print(f"{'version':>7}  {'status':<9} {'macro_f1':>8} {'accuracy':>8} {'unk_rej':>7} {'faces':>6} "
          f"{'personas':>8}  created              reason")  # fmt: skip
    for v in versions:
        m, c = v.metrics, v.label_counts
        fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
        mark = "*" if v.version == active else " "
        print(f"{mark}{v.version:>6}  {v.status:<9} {fmt(m.get('macro_f1')):>8} {fmt(m.get('accuracy')):>8} "
              f"{fmt(m.get('unknown_rejection_rate')):>7} {c.get('confirmed', 0):>6} {c.get('personas', 0):>8}  "
              f"{v.created_at:%Y-%m-%d %H:%M:%S}  {v.reason}")  # fmt: skip
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    db = get_database()
    if args.inline:
        outcome = run_training(db, reason="manual (cli, inline)", force=True)
        print(f"{outcome.status}: v{outcome.version} ({outcome.reason})")
        return 0 if outcome.status != "skipped" else 1
    latest = models_repo.latest_version(db)
    before = latest.version if latest else 0
    events.record(db, "model.retrain_requested", _actor(), "model", {"source": "cli"})
    request_retrain("manual (cli)", force=True)
    print("retrain requested")
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        latest = models_repo.latest_version(db)
        if latest is not None and latest.version > before:
            print(f"v{latest.version}: {latest.status} ({latest.reason})")
            return 0 if latest.status in (registry.ACTIVE, registry.REJECTED) else 1
        time.sleep(1.0)
    print(f"no new model version after {args.timeout:.0f}s (is the trainer worker running?)", file=sys.stderr)
    return 1


def cmd_reclassify(args: argparse.Namespace) -> int:
    """A full pass of the active version now: ``full`` starts a new review-queue generation and re-stamps every
    face; ``--audit`` rewrites only what changed and reports how many decisions that was."""
    db = get_database()
    active = models_repo.active_version(db)
    if active is None:
        print("no active model: nothing to reclassify", file=sys.stderr)
        return 1
    kind = "audit" if args.audit else "full"
    messages.send(messages.ReclassifyAll(version=active, kind=kind), celery_app.send_task)
    print(f"{kind} pass of v{active} requested (progress: /api/v1/models, reclassify_pass)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="the model registry: list, promote, rollback, history, resign, pin")
    p.add_argument("action", choices=["list", "promote", "rollback", "history", "resign", "pin", "unpin"])
    p.add_argument(
        "version", nargs="?", type=int, help="version to promote, pin or unpin (resign: one version, default all)"
    )
    p.add_argument("--reason", default="", help="why (promote)")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="list as JSON with every metric")
    p.set_defaults(func=cmd_models)

    p = subparsers.add_parser("retrain", help="retrain now (through the retrain queue)")
    p.add_argument("--wait", action="store_true", help="wait for the new model version and print its status")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait")
    p.add_argument("--inline", action="store_true", help="train in this process instead of the worker")
    p.set_defaults(func=cmd_retrain)

    p = subparsers.add_parser("reclassify", help="a full pass of the active version now (through the reclassify queue)")
    p.add_argument("--audit", action="store_true", help="rewrite only what changed and count the changed decisions")
    p.set_defaults(func=cmd_reclassify)
