"""spectree, imported without the offline page templates it does not need here.

On import, spectree fills its page templates from ``offapi`` when that package is installed; offapi's
import reads its 9 MB of scripts into strings: 40 MB of every web process's memory. This app passes no
page templates to spectree (its docs page serves offapi's files from disk: ``api/docs_page.py``), so
offapi is hidden while spectree is imported. Every import of spectree goes through this module.
"""

from __future__ import annotations

import sys

_hidden = "spectree" not in sys.modules and sys.modules.setdefault("offapi", None) is None  # type: ignore[arg-type]

from spectree import Response, SpecTree  # noqa: E402
from spectree.model_adapter.pydantic_adapter import BaseFile  # noqa: E402

if _hidden and sys.modules.get("offapi", 0) is None:
    del sys.modules["offapi"]  # offapi can be found (not imported) again: api/docs_page.py

__all__ = ["BaseFile", "Response", "SpecTree"]
