"""`/healthz`: 200 when Cassandra, Redis and the workers answer, 503 naming what is down."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from common.health import check_all
from common.settings import get_settings

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    if request.args.get("live"):
        return jsonify({"status": "alive"}), 200
    health = check_all(get_settings(), include_workers=request.args.get("workers", "1") != "0")
    return jsonify(health.as_dict()), (200 if health.ok else 503)
