"""`persona-pipeline users add` and `persona-pipeline tokens create|list|revoke`."""

from __future__ import annotations

import argparse
import getpass
import sys

from common.db import get_database
from visualization_web import users


def cmd_users(args: argparse.Namespace) -> int:
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
    db = get_database()
    if args.action != "list" and not args.username:
        print(f"tokens {args.action} needs a USERNAME", file=sys.stderr)
        return 2
    if args.action == "create":
        try:
            token, secret = users.create_token(db, args.username, args.name, days=args.days)
        except users.UserError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"token {token.token_id} for {token.username}, expires {token.expires_at:%Y-%m-%d} (shown once):")
        print(secret)
    elif args.action == "list":
        tokens = users.list_tokens(db, args.username) if args.username else users.list_all_tokens(db)
        for t in tokens:
            expires = f"{t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "-"
            print(f"{t.token_id}  {t.username:<20} {t.name:<24} expires {expires}")
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

    p = subparsers.add_parser("tokens", help="API tokens for scripts (list: every user's, or USERNAME's)")
    p.add_argument("action", choices=["create", "list", "revoke"])
    p.add_argument("username", nargs="?")
    p.add_argument("--name", default="script")
    p.add_argument("--days", type=int, help="expiry in days (default and most: PP_API_TOKEN_DAYS)")
    p.add_argument("--token-id")
    p.set_defaults(func=cmd_tokens)
