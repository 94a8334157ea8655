"""Encoding face crops for storage; decoding untrusted bytes lives in :mod:`common.images`."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=quality)
    return out.getvalue()
