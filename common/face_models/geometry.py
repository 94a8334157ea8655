"""Box arithmetic: downscaling for detection, mapping boxes back, clamping, overlap."""

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
    small = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
    return small, width / size[0]


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
