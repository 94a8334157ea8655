"""How much memory decoding an image takes, known from its header before a single pixel is decoded.

A pixel cap alone is not a memory cap: 80 MP of grayscale and 80 MP of RGBA differ fourfold, and the
conversion to what the face models read (an H x W x 3 uint8 array) adds its own copy. The decoder
(:mod:`common.images.decoding`) asks :func:`decode_peak_bytes` for the peak of decoding and normalizing
an image and refuses it, with the reason from :func:`over_budget`, when that exceeds ``PP_MAX_DECODE_BYTES``.

The peak is what :mod:`common.images.normalize` holds at once: Pillow's decoded image (Pillow stores
1, L and P in 1 byte a pixel, the 16-bit modes in 2, every other mode, RGB included, in 4), the RGB
array being filled (3 bytes a pixel of the output) and one band of rows in conversion.
"""

from __future__ import annotations

import math

MIB = 1024 * 1024

# Bytes per pixel of Pillow's in-memory storage for each mode it decodes to.
_ONE_BYTE = frozenset({"1", "L", "P"})
_TWO_BYTES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})

# Rows converted at a time hold at most this many pixels; a band's conversion needs at most
# BAND_BYTES_PER_PIXEL bytes for each (crop, RGBA copy, numpy copies and 16-bit arithmetic).
BAND_PIXELS = 1 << 17
BAND_BYTES_PER_PIXEL = 48
BAND_BYTES = BAND_PIXELS * BAND_BYTES_PER_PIXEL  # 6 MiB


def storage_bytes_per_pixel(mode: str) -> int:
    """Bytes a pixel takes in a decoded Pillow image of ``mode``."""
    if mode in _ONE_BYTE:
        return 1
    if mode in _TWO_BYTES:
        return 2
    return 4


def band_rows(width: int, step: int = 1) -> int:
    """Rows converted at a time for an image ``width`` pixels wide: a multiple of ``step``, at least one."""
    rows = max(1, BAND_PIXELS // max(1, width))
    return max(step, rows - rows % step)


def output_bytes(width: int, height: int, step: int = 1) -> int:
    """The RGB uint8 array of an image sampled every ``step`` pixels."""
    return math.ceil(width / step) * math.ceil(height / step) * 3


def decode_peak_bytes(mode: str, width: int, height: int, step: int = 1) -> int:
    """Peak memory of decoding a ``width`` x ``height`` image of ``mode`` and normalizing it to RGB."""
    decoded = width * height * storage_bytes_per_pixel(mode)
    band = min(width * height, BAND_PIXELS) * BAND_BYTES_PER_PIXEL
    return decoded + output_bytes(width, height, step) + band


def over_budget(mode: str, width: int, height: int, limit: int) -> str | None:
    """The reason for refusing a full decode of this image, or None when it fits in ``limit`` bytes."""
    need = decode_peak_bytes(mode, width, height)
    if need <= limit:
        return None
    return (
        f"image too large to decode: {width}x{height} pixels in mode {mode} need about {math.ceil(need / MIB)} MiB "
        f"(limit {limit // MIB} MiB)"
    )
