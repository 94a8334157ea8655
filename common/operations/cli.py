"""The `persona-pipeline` command: its own subcommands (schema, local services, health, card backfill).

The packages above ``common`` add theirs (`ingest`, `models`, `users`, …) through the entry point group
``persona_pipeline.commands`` (pyproject.toml): each entry is a ``register(subparsers)`` function, so this
module names none of those packages.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from importlib.metadata import entry_points

from common.db import Database
from common.db.migrate import migrate
from common.db.session import connect
from common.infra.local_services import local_services
from common.infra.local_services.processes import wait_until
from common.infra.settings import get_settings
from common.operations.health import check_all
from common.repositories.card_backfill import backfill_cards, backfill_image_cards

COMMANDS_GROUP = "persona_pipeline.commands"
DESCRIPTION = "Operate persona-pipeline: schema, local services, health, ingest, models, users."


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = get_settings()
    keyspace = args.keyspace or settings.cassandra_keyspace
    holder: dict = {}

    def try_connect() -> bool:
        try:
            holder["conn"] = connect(settings)
            return True
        except Exception as exc:
            print(f"waiting for Cassandra: {exc}", file=sys.stderr)
            return False

    if not wait_until(try_connect, args.wait, interval=3.0):
        print(f"Cassandra not reachable after {args.wait}s", file=sys.stderr)
        return 1
    cluster, session = holder["conn"]
    try:
        applied = migrate(session, keyspace, settings.cassandra_replication, flavor=settings.cassandra_flavor)
    finally:
        cluster.shutdown()
    print(f"applied: {', '.join(applied)}" if applied else f"keyspace {keyspace} is up to date")
    old_faces = any(name.startswith(FACE_CARD_MIGRATIONS) for name in applied)
    old_images = any(name.startswith(IMAGE_CARD_MIGRATIONS) for name in applied)
    if old_faces or old_images:
        _backfill_cards(
            Database.connect(settings, keyspace), rewrite_all=False, face_cards=old_faces, image_cards=old_images
        )
    return 0


# faces and images stored before these get (complete) cards when an upgrade applies them: 0006 face cards,
# 0012 the embedding on the face card (full passes read it), 0007 image cards
FACE_CARD_MIGRATIONS = ("0006_", "0012_")
IMAGE_CARD_MIGRATIONS = ("0007_",)


def _backfill_cards(db: Database, rewrite_all: bool, face_cards: bool = True, image_cards: bool = True) -> None:
    try:
        if face_cards:
            result = backfill_cards(db, rewrite_all=rewrite_all)
            print(f"face cards: {result.written} written ({result.scanned} faces_by_image rows scanned)")
        if image_cards:
            print(f"image cards: {backfill_image_cards(db).written} written")
    finally:
        db.close()


def cmd_services(args: argparse.Namespace) -> int:
    services = local_services(get_settings())
    if args.action == "start":
        for service in services:
            started = service.start()
            print(f"{service.name}: {'started' if started else 'already running'}")
    elif args.action == "stop":
        for service in reversed(services):
            print(f"{service.name}: {'stopped' if service.stop() else 'not running'}")
    for service in services:
        print(service.status().line())
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    health = check_all(get_settings(), include_workers=not args.no_workers)
    print(json.dumps(health.as_dict(), indent=2))
    return 0 if health.ok else 1


def cmd_backfill_cards(args: argparse.Namespace) -> int:
    _backfill_cards(Database.connect(get_settings()), rewrite_all=args.all)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="persona-pipeline", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="create the keyspace and apply pending schema migrations")
    p.add_argument("--keyspace", help="override PP_CASSANDRA_KEYSPACE")
    p.add_argument("--wait", type=float, default=300, help="seconds to wait for Cassandra")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("services", help="local Cassandra and Redis (no Docker)")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.set_defaults(func=cmd_services)

    p = sub.add_parser("health", help="check Cassandra, Redis and workers")
    p.add_argument("--no-workers", action="store_true", help="skip the worker ping")
    p.set_defaults(func=cmd_health)

    p = sub.add_parser(
        "backfill-cards", help="write the cards of faces and images stored before migrations 0006, 0007, 0012"
    )
    p.add_argument("--all", action="store_true", help="rewrite every card from the face, label and prediction tables")
    p.set_defaults(func=cmd_backfill_cards)

    for entry_point in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        entry_point.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("cassandra").setLevel(logging.ERROR)
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
