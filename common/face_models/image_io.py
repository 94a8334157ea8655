"""Decoded images as what people see: EXIF orientation applied, any mode normalized to RGB uint8."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N"}


def normalize_to_rgb(image: Image.Image) -> Image.Image:
    """First frame, EXIF orientation applied, CMYK / 16-bit / palette / alpha converted to 8-bit RGB."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    image.load()
    image = ImageOps.exif_transpose(image) or image
    mode = image.mode
    if mode in _SIXTEEN_BIT or mode in ("I", "F"):
        image = Image.fromarray(_to_uint8(np.asarray(image), mode), mode="L")
        mode = "L"
    if mode == "P":
        image = image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if mode == "RGB" else image.convert("RGB")


def _to_uint8(array: np.ndarray, mode: str) -> np.ndarray:
    if mode in _SIXTEEN_BIT:
        return (array.astype(np.uint32) >> 8).astype(np.uint8)
    array = array.astype(np.float64)
    peak = float(array.max()) if array.size else 0.0
    if mode == "I" and peak > 255:
        array = array / 257.0
    return np.clip(array, 0, 255).astype(np.uint8)


def to_array(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=quality)
    return out.getvalue()
