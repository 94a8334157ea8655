"""`persona-pipeline users add|list` and `persona-pipeline tokens create|revoke`."""

from __future__ import annotations

import argparse
import getpass
import sys


def cmd_users(args: argparse.Namespace) -> int:
    from common.db import get_database
    from visualization_web import users

    db = get_database()
    if args.action == "add":
        password = args.password or getpass.getpass(f"password for {args.username}: ")
        try:
            users.put(db, args.username, password, args.role)
        except users.UserError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"user {args.username} ({args.role}) saved")
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from common.db import get_database
    from visualization_web import users

    db = get_database()
    if args.action == "create":
        try:
            token, secret = users.create_token(db, args.username, args.name)
        except users.UserError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"token {token.token_id} for {token.username} (shown once):\n{secret}")
    else:
        if not users.revoke_token(db, args.username, args.token_id or ""):
            print("no such token", file=sys.stderr)
            return 1
        print("revoked")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("users", help="web users (hashed passwords)")
    p.add_argument("action", choices=["add"])
    p.add_argument("username")
    p.add_argument("--role", choices=["viewer", "labeler", "admin"], default="labeler")
    p.add_argument("--password", help="default: asked for on the terminal")
    p.set_defaults(func=cmd_users)

    p = subparsers.add_parser("tokens", help="API tokens for scripts")
    p.add_argument("action", choices=["create", "revoke"])
    p.add_argument("username")
    p.add_argument("--name", default="script")
    p.add_argument("--token-id")
    p.set_defaults(func=cmd_tokens)
