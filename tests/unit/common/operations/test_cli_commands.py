"""`persona-pipeline` finds each package's subcommands through its entry points (common names none of them)."""

from __future__ import annotations

import argparse

from common.operations.cli import build_parser


def test_every_package_adds_its_subcommands():
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"migrate", "services", "health", "backfill-cards"} <= set(commands)  # common's own
    assert {"ingest", "reextract", "models", "retrain", "users", "tokens"} <= set(commands)  # from entry points
