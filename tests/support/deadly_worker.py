"""TEST ONLY: the input worker's Celery app, whose decoder kills its own process for chosen bytes.

``celery -A tests.support.deadly_worker worker ...`` with ``PP_TEST_KILL_ON_DECODE`` set to comma-separated
``<sha256>:ingest`` / ``<sha256>:extract`` entries: when ingest (a reduced decode) or extract (a full decode)
is given those bytes, the pool process SIGKILLs itself, as the kernel's OOM killer or a segfaulting decoder
would. Nothing in the product reads the variable; the patch lives only in this module.
"""

from __future__ import annotations

import hashlib
import os
import signal

# ruff: noqa: I001 - input_worker.app first: it sets up the worker's metrics before any module makes one
from input_worker.app import app
from common.images import load_image as real_load_image
from input_worker import extract, ingest

DEADLY = {tuple(entry.split(":", 1)) for entry in os.environ.get("PP_TEST_KILL_ON_DECODE", "").split(",") if entry}


def deadly_load_image(data: bytes, name: str, settings, reduced: bool = False):
    step = "ingest" if reduced else "extract"
    if (hashlib.sha256(data).hexdigest(), step) in DEADLY:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_load_image(data, name, settings, reduced=reduced)


ingest.load_image = deadly_load_image
extract.load_image = deadly_load_image

__all__ = ["app"]
