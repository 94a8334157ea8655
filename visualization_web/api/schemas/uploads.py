"""An uploaded file in a multipart body: documented as binary, handed to the view as it came (never read
here: the view streams it, within the route's body limit)."""

from __future__ import annotations

from typing import Any

from visualization_web.api.spectree_lean import BaseFile

UploadedFile = BaseFile


def as_list(value: Any) -> list[Any]:
    """A multipart field sent once arrives as one value, not a list of one."""
    return value if isinstance(value, list) else [value]
