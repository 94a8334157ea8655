"""Decoded images as what people see, built band by band: EXIF orientation applied, any mode to RGB uint8.

The output array is allocated once and filled a band of rows at a time, so no full-size intermediate
(an RGBA copy, a white background, a composited copy, Pillow's ``tobytes`` buffer, a rotated copy) ever
exists next to the decoded image: the peak is the decoded image plus the output plus one band
(:func:`common.images.budget.decode_peak_bytes`).

Alpha is composited on white; 16-bit and 32-bit grayscale keep their significant bits (a 16-bit PNG
holding 0..255, as Pillow's ``convert("I;16")`` writes, stays 0..255 instead of turning black);
float images in 0..1 are scaled to 0..255.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image

from common.images.budget import band_rows

_ORIENTATION = 0x0112
_ALPHA = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})
_WIDE_GRAY = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
SWAPS_SIDES = frozenset({5, 6, 7, 8})  # EXIF orientations that turn the image by 90 degrees

Converter = Callable[[Image.Image], np.ndarray]  # a band of the image -> h x w x 3 uint8


def orientation(image: Image.Image) -> int:
    """The EXIF orientation (1..8; 1 when absent or invalid)."""
    try:
        value = int(image.getexif().get(_ORIENTATION, 1))
    except (TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def rgb_array(image: Image.Image, step: int = 1) -> np.ndarray:
    """The loaded ``image`` as an upright H x W x 3 uint8 array, sampled every ``step`` pixels (1: all)."""
    turn = orientation(image)
    width, height = image.size
    out_w, out_h = math.ceil(width / step), math.ceil(height / step)
    out = np.empty((out_w, out_h, 3) if turn in SWAPS_SIDES else (out_h, out_w, 3), dtype=np.uint8)
    convert = _converter(image)
    rows = band_rows(width, step)
    for y0 in range(0, height, rows):
        band = convert(image.crop((0, y0, width, min(height, y0 + rows))))
        if step > 1:
            band = band[::step, ::step]
        _place(out, band, y0 // step, out_h, turn)
    return out


def _place(out: np.ndarray, band: np.ndarray, row: int, rows: int, turn: int) -> None:
    """Write ``band`` (source rows ``row``.. of ``rows``) where EXIF orientation ``turn`` puts it in ``out``."""
    end = row + band.shape[0]
    flipped = slice(rows - end, rows - row)
    if turn == 1:
        out[row:end] = band
    elif turn == 2:  # mirrored left-right
        out[row:end] = band[:, ::-1]
    elif turn == 3:  # turned 180 degrees
        out[flipped] = band[::-1, ::-1]
    elif turn == 4:  # mirrored top-bottom
        out[flipped] = band[::-1]
    elif turn == 5:  # transposed
        out[:, row:end] = band.transpose(1, 0, 2)
    elif turn == 6:  # turned 90 degrees clockwise to be upright
        out[:, flipped] = band.transpose(1, 0, 2)[:, ::-1]
    elif turn == 7:  # transversed
        out[:, flipped] = band.transpose(1, 0, 2)[::-1, ::-1]
    else:  # 8: turned 90 degrees counter-clockwise to be upright
        out[:, row:end] = band.transpose(1, 0, 2)[::-1]


def _converter(image: Image.Image) -> Converter:
    mode = image.mode
    if mode in _WIDE_GRAY:
        return _wide_gray(image)
    if mode == "F":
        return _float_gray(image)
    if mode in _ALPHA or (mode == "P" and "transparency" in image.info):
        return _on_white
    if mode == "RGB":
        return _rgb
    return lambda band: _rgb(band.convert("RGB"))


def _rgb(band: Image.Image) -> np.ndarray:
    return np.asarray(band, dtype=np.uint8)


def _on_white(band: Image.Image) -> np.ndarray:
    rgba = np.asarray(band.convert("RGBA"), dtype=np.uint16)
    alpha = rgba[..., 3:4]
    return ((rgba[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def _gray(values: np.ndarray) -> np.ndarray:
    return np.repeat(values.astype(np.uint8)[..., None], 3, axis=2)


def _wide_gray(image: Image.Image) -> Converter:
    """16/32-bit gray: shift so the brightest value's significant bits land in 8 bits (8-bit data: as is)."""
    peak = max(0, int(image.getextrema()[1]))
    shift = max(0, peak.bit_length() - 8)

    def convert(band: Image.Image) -> np.ndarray:
        values = np.asarray(band).astype(np.int64)  # '<u2', '>u2' or int32: native integers either way
        return _gray(np.clip(values >> shift, 0, 255))

    return convert


def _float_gray(image: Image.Image) -> Converter:
    peak = float(image.getextrema()[1])
    scale = 255.0 if 0.0 < peak <= 1.0 else 1.0

    def convert(band: Image.Image) -> np.ndarray:
        values = np.nan_to_num(np.asarray(band, dtype=np.float32) * scale, nan=0.0)
        return _gray(np.clip(np.rint(values), 0, 255))

    return convert
