"""Tiles of a large image and merging their boxes: how small faces in a big group photo are found.

Detection on the downscaled copy cannot see a face smaller than the detector's minimum times the downscale
factor (a 100 px face in a 4,000 px photo is 25 px on a 1,024 px copy). The tile pass runs the detector on
overlapping tiles of the image at (near) full resolution instead. A face smaller than the overlap is whole in
at least one tile, so a box cut by a tile's inner edge is dropped; the rest are merged with the first pass's
boxes by non-maximum suppression, so a face seen twice is stored once.
"""

from __future__ import annotations

from collections.abc import Iterable

from common.face_models.geometry import iou
from common.face_models.types import Box, DetectedBox

EDGE_PIXELS = 2  # a box this close to a tile's inner edge was cut by it


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of side ``tile`` covering ``length`` pixels, neighbours overlapping by ``overlap``
    (the last tile ends at the edge)."""
    if length <= tile:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def tiles(width: int, height: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of every tile of a ``width`` x ``height`` image."""
    return [(x, y, min(width, x + tile), min(height, y + tile))
            for y in tile_starts(height, tile, overlap) for x in tile_starts(width, tile, overlap)]  # fmt: skip


def cut_by_inner_edge(box: Box, tile: tuple[int, int, int, int], width: int, height: int, overlap: int) -> bool:
    """Whether ``box`` (in the tile's pixels) touches a tile edge that is not the image's edge and is small
    enough to be whole in the neighbouring tile."""
    left, top, right, bottom = tile
    x, y, w, h = box
    if max(w, h) >= overlap:
        return False  # may be whole in no tile: keep what this tile saw
    return ((left > 0 and x <= EDGE_PIXELS) or (top > 0 and y <= EDGE_PIXELS)
            or (right < width and x + w >= right - left - EDGE_PIXELS)
            or (bottom < height and y + h >= bottom - top - EDGE_PIXELS))  # fmt: skip


def _contained(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    smaller = min(a[2] * a[3], b[2] * b[3])
    return iw * ih / smaller if smaller > 0 else 0.0


def merge(boxes: Iterable[DetectedBox], max_iou: float = 0.3, max_contained: float = 0.6) -> list[DetectedBox]:
    """Non-maximum suppression: best score first, a box overlapping a kept one (IoU above ``max_iou``, or
    mostly inside it or around it) is the same face and dropped."""
    kept: list[DetectedBox] = []
    for found in sorted(boxes, key=lambda d: -(d.score if d.score is not None else 0.0)):
        if all(iou(found.box, k.box) <= max_iou and _contained(found.box, k.box) <= max_contained for k in kept):
            kept.append(found)
    return kept
