"""Box arithmetic: downscaling for detection, mapping boxes back, clamping, overlap.

The detection copy of a large image is made without a full-size copy: whole k x k blocks are averaged in
bands of rows (numpy), and only that reduced copy (at most twice ``max_side`` a side) goes through Pillow's
resize. A full-size Pillow copy of the array would take 4 bytes a pixel, more than the array itself.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from common.face_models.types import Box


def downscale(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """A copy whose long side is at most ``max_side``, and the factor original/copy (>= 1)."""
    height, width = rgb.shape[:2]
    long_side = max(height, width)
    if max_side <= 0 or long_side <= max_side:
        return rgb, 1.0
    scale = long_side / max_side
    size = (max(1, round(width / scale)), max(1, round(height / scale)))
    reduced = block_mean(rgb, int(scale))
    small = np.asarray(Image.fromarray(reduced).resize(size, Image.Resampling.BILINEAR))
    return small, width / size[0]


def detection_copy(rgb: np.ndarray, max_side: int, min_side: int = 0) -> tuple[np.ndarray, float]:
    """The copy faces are detected on and the factor original/copy: downscaled to ``max_side``, or, for an
    image whose long side is under ``min_side`` (a thumbnail), enlarged to ``min_side`` (factor < 1)."""
    height, width = rgb.shape[:2]
    long_side = max(height, width)
    if min_side <= 0 or long_side >= min_side:
        return downscale(rgb, max_side)
    scale = min_side / long_side
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC)), width / size[0]


BLOCK_BAND_PIXELS = 1 << 21  # source pixels averaged at a time


def block_mean(rgb: np.ndarray, k: int) -> np.ndarray:
    """``rgb`` shrunk k times by averaging whole k x k blocks (a partial block at the edge is dropped)."""
    if k < 2:
        return rgb
    height, width = rgb.shape[0] // k, rgb.shape[1] // k
    out = np.empty((height, width, *rgb.shape[2:]), dtype=np.uint8)
    rows = max(1, BLOCK_BAND_PIXELS // max(1, width * k * k))
    for r0 in range(0, height, rows):
        r1 = min(height, r0 + rows)
        block = rgb[r0 * k : r1 * k, : width * k].reshape(r1 - r0, k, width, k, *rgb.shape[2:])
        out[r0:r1] = (block.sum(axis=(1, 3), dtype=np.uint32) + k * k // 2) // (k * k)
    return out


def scale_box(box: Box, factor: float, width: int, height: int) -> Box:
    """Map a box from a scaled copy back to the original (factor = original / copy), clamped to the image."""
    left, top, w, h = box
    x0 = max(0, min(width - 1, round(left * factor)))
    y0 = max(0, min(height - 1, round(top * factor)))
    x1 = max(x0 + 1, min(width, round((left + w) * factor)))
    y1 = max(y0 + 1, min(height, round((top + h) * factor)))
    return (x0, y0, x1 - x0, y1 - y0)


def ltrb_to_box(left: float, top: float, right: float, bottom: float) -> Box:
    return (round(left), round(top), max(1, round(right - left)), max(1, round(bottom - top)))


def iou(a: Box, b: Box) -> float:
    ax1, ay1, ax2, ay2 = a[0], a[1], a[0] + a[2], a[1] + a[3]
    bx1, by1, bx2, by2 = b[0], b[1], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax2, bx2) - max(ax1, bx1))
    ih = max(0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
