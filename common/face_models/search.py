"""Where faces are looked for in one image: the first pass, then the extra passes for hard images.

1. First pass: the detector on a copy downscaled to ``PP_DETECTION_MAX_SIDE``, or enlarged to
   ``PP_DETECTION_MIN_SIDE`` when the image is a thumbnail (more upsampling for a small image).
2. Orientation search (``PP_DETECTION_ORIENTATION_SEARCH``): only when the first pass finds no face. The
   copy turned 90, 180 and 270 degrees is scanned without upsampling (a quarter of a first pass each); the
   turn with the most faces (then the best scores) is scanned again like a first pass. Its boxes are in
   the turned image, which is what the image page shows; ``rotation`` says which turn.
3. Tiles (``PP_DETECTION_TILE_*``): when the first pass could not see a face of ``PP_DETECTION_TILE_MIN_FACE``
   pixels (a large image, downscaled a lot) and it found a face close to its smallest, or no face at all
   in a still larger image (:func:`_should_tile`), the image is scanned again in overlapping tiles at up to
   full resolution; boxes are merged across tiles and with the first pass (:mod:`common.face_models.tiling`).

docs/input-worker.md gives each pass's rule and cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.face_models.geometry import detection_copy, downscale, scale_box
from common.face_models.registry import get_detector
from common.face_models.tiling import cut_by_inner_edge, merge, tiles
from common.face_models.types import DetectedBox, FaceDetector
from common.infra.settings import Settings

ROTATIONS = (90, 180, 270)  # degrees clockwise
DEFAULT_MIN_FACE = 36.0  # a detector that does not say (Azure detection_03: 36 px)
SMALL_FACE_FACTOR = 1.25  # a face under this many times the first pass's smallest suggests smaller ones missed
# Tiles when the first pass's smallest face is this many times PP_DETECTION_TILE_MIN_FACE: after a face close to
# that smallest (evidence of smaller ones), or, a guess that costs more where it is wrong, after no face at all.
REACH_AFTER_SMALL_FACE, REACH_AFTER_NO_FACE = 2.0, 3.0
TILE_MAX_PIXELS = 24_000_000  # a larger image is not tiled: a copy to tile would pass the worker's memory budget


@dataclass(frozen=True)
class BoxSearch:
    """The boxes of an image turned ``rotation`` degrees clockwise (in that turned image's pixels)."""

    boxes: list[DetectedBox]
    rotation: int
    passes: tuple[str, ...]  # the extra passes that ran: "orientation", "tiles"


def turned(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """``rgb`` turned ``rotation`` degrees clockwise (a contiguous copy; ``rgb`` itself for 0)."""
    if rotation % 360 == 0:
        return rgb
    return np.ascontiguousarray(np.rot90(rgb, -(rotation // 90)))


def min_face(detector: FaceDetector) -> float:
    """The smallest face (pixels of the array it is given) ``detector`` finds."""
    return float(getattr(detector, "min_face", DEFAULT_MIN_FACE))


def search_boxes(rgb: np.ndarray, detector_name: str, settings: Settings, orientation_search: bool = True
                 ) -> BoxSearch:  # fmt: skip
    """Every face box of ``rgb`` (EXIF already applied) by the passes above."""
    detector = get_detector(detector_name, settings)
    copy, factor = detection_copy(rgb, settings.detection_max_side, settings.detection_min_side)
    boxes = _scan(copy, factor, rgb.shape[1], rgb.shape[0], detector)
    rotation, passes = 0, []
    if not boxes and orientation_search and settings.detection_orientation_search:
        passes.append("orientation")
        rotation, boxes = _best_turn(copy, factor, rgb, detector_name, settings, detector)
    if _should_tile(rgb, boxes, min_face(detector) * factor, settings):
        passes.append("tiles")
        boxes = merge([*boxes, *_tile_boxes(turned(rgb, rotation), detector, settings)])
    unique = {d.box: d for d in boxes}  # identical boxes would derive identical face ids
    ordered = sorted(unique.values(), key=lambda d: (d.box[1], d.box[0], d.box[2], d.box[3]))
    return BoxSearch(ordered, rotation, tuple(passes))


def _scan(copy: np.ndarray, factor: float, width: int, height: int, detector: FaceDetector) -> list[DetectedBox]:
    """The detector on ``copy``; boxes mapped to the ``width`` x ``height`` image (factor = image / copy)."""
    return [DetectedBox(scale_box(d.box, factor, width, height), d.score) for d in detector.detect(copy)]


def _score(boxes: list[DetectedBox]) -> tuple[int, float]:
    return len(boxes), sum(d.score or 0.0 for d in boxes)


def _best_turn(copy: np.ndarray, factor: float, rgb: np.ndarray, detector_name: str, settings: Settings,
               detector: FaceDetector) -> tuple[int, list[DetectedBox]]:  # fmt: skip
    """(rotation, boxes in the turned image) of the turn whose quick scan finds the most faces; (0, []) if
    none finds any."""
    quick = get_detector(detector_name, settings, upsample=0)
    best, best_found = 0, []
    for rotation in ROTATIONS:
        found = quick.detect(turned(copy, rotation))
        if found and _score(found) > _score(best_found):
            best, best_found = rotation, found
    if not best:
        return 0, []
    height, width = rgb.shape[:2]
    if best != 180:
        width, height = height, width
    boxes = _scan(turned(copy, best), factor, width, height, detector)
    if not boxes:  # the quick scan's boxes, should the full scan disagree
        boxes = [DetectedBox(scale_box(d.box, factor, width, height), d.score) for d in best_found]
    return best, boxes


def _should_tile(rgb: np.ndarray, boxes: list[DetectedBox], reach: float, settings: Settings) -> bool:
    """Tile when the first pass could not see a face of ``PP_DETECTION_TILE_MIN_FACE`` pixels: its smallest
    face (``reach``) is at least twice that and it found a face close to that smallest, or at least three
    times that and it found no face."""
    wanted = settings.detection_tile_min_face
    if wanted <= 0 or rgb.shape[0] * rgb.shape[1] > TILE_MAX_PIXELS:
        return False  # off; or so large that a scaled copy to tile would pass the worker's memory budget
    if settings.detection_tile_always_above and max(rgb.shape[:2]) > settings.detection_tile_always_above:
        return True
    if not boxes:
        return reach >= REACH_AFTER_NO_FACE * wanted
    smallest = min(min(d.box[2], d.box[3]) for d in boxes)
    return reach >= REACH_AFTER_SMALL_FACE * wanted and smallest < SMALL_FACE_FACTOR * reach


def _tile_boxes(rgb: np.ndarray, detector: FaceDetector, settings: Settings) -> list[DetectedBox]:
    """Boxes found in overlapping tiles of ``rgb`` (scaled so a ``PP_DETECTION_TILE_MIN_FACE`` face is the
    detector's smallest, never enlarged; ``rgb`` is at most ``TILE_MAX_PIXELS``), in ``rgb``'s pixels; boxes cut by a
    tile's inner edge dropped."""
    height, width = rgb.shape[:2]
    scale = min(1.0, min_face(detector) / settings.detection_tile_min_face, (TILE_MAX_PIXELS / (height * width)) ** 0.5)
    image, factor = downscale(rgb, round(max(height, width) * scale)) if scale < 1.0 else (rgb, 1.0)
    image_h, image_w = image.shape[:2]
    side = settings.detection_tile_side
    overlap = min(settings.detection_tile_overlap, side // 2)
    out = []
    for tile in tiles(image_w, image_h, side, overlap):
        left, top, right, bottom = tile
        part = np.ascontiguousarray(image[top:bottom, left:right])
        for found in detector.detect(part):
            if cut_by_inner_edge(found.box, tile, image_w, image_h, overlap):
                continue
            x, y, w, h = found.box
            out.append(DetectedBox(scale_box((x + left, y + top, w, h), factor, width, height), found.score))
    return out
