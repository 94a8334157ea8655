"""Match re-detected boxes to existing faces by overlap, so human work follows the face."""

from __future__ import annotations

from common.face_models.geometry import iou
from common.face_models.types import Box

MIN_IOU = 0.5


def match_boxes(old: list[Box], new: list[Box], min_iou: float = MIN_IOU) -> dict[int, int]:
    """{new index: old index} for pairs overlapping more than ``min_iou``, best overlaps first, one-to-one."""
    pairs = sorted(
        ((iou(o, n), ni, oi) for oi, o in enumerate(old) for ni, n in enumerate(new)),
        key=lambda p: (-p[0], p[1], p[2]),
    )
    matched: dict[int, int] = {}
    used_old: set[int] = set()
    for overlap, ni, oi in pairs:
        if overlap <= min_iou:
            break
        if ni in matched or oi in used_old:
            continue
        matched[ni] = oi
        used_old.add(oi)
    return matched
