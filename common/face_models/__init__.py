"""The one face-model abstraction: detectors (dlib-hog, dlib-cnn, azure) and the dlib embedder.

``detect_and_embed(image_bytes, name)`` is what the web app's /predict calls (decoded by the one
untrusted-image decoder, :mod:`common.images`); ``find_faces(rgb, ...)`` is what the extract task
calls on an image that decoder already returned: every pass of :mod:`common.face_models.search`, the
orientation search included, and the turn its boxes are in. ``extract_faces`` is the same without the
orientation search (boxes always in ``rgb``'s pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.face_models.embedder import EMBEDDER_NAME
from common.face_models.geometry import downscale, scale_box
from common.face_models.registry import get_detector, get_embedder
from common.face_models.search import search_boxes, turned
from common.face_models.types import DetectedBox, DetectedFace, DetectorUnavailable, FaceDetector
from common.images import load_image
from common.images.decoding import decode_slot
from common.infra.settings import Settings, get_settings


def detect_boxes(rgb: np.ndarray, detector: FaceDetector, max_side: int) -> list[DetectedBox]:
    """Detect on a copy downscaled to ``max_side``; boxes come back in ``rgb``'s pixels, sorted."""
    height, width = rgb.shape[:2]
    small, factor = downscale(rgb, max_side)
    found = [DetectedBox(scale_box(d.box, factor, width, height), d.score) for d in detector.detect(small)]
    unique = {d.box: d for d in found}  # identical boxes would derive identical face ids
    return sorted(unique.values(), key=lambda d: (d.box[1], d.box[0], d.box[2], d.box[3]))


@dataclass(frozen=True)
class FaceSearch:
    """The faces of an image as displayed: the decoded (EXIF-upright) image turned ``rotation`` degrees
    clockwise (0 unless the orientation search chose a turn); boxes and crops are in that turned image."""

    faces: list[DetectedFace]
    rotation: int
    width: int  # of the image as displayed
    height: int
    passes: tuple[str, ...]  # the extra passes that ran: "orientation", "tiles"


def find_faces(rgb: np.ndarray, detector_name: str | None = None, settings: Settings | None = None,
               orientation_search: bool = True) -> FaceSearch:  # fmt: skip
    """Every face of an RGB uint8 image (EXIF already applied): box, score, embedding, aligned JPEG crop."""
    settings = settings or get_settings()
    found = search_boxes(rgb, detector_name or settings.face_detector.value, settings, orientation_search)
    shown = turned(rgb, found.rotation)  # the crops are cut from the image as displayed
    embedder = get_embedder()
    faces = []
    for box in found.boxes:
        embedding, crop = embedder.embed(shown, box.box)
        faces.append(DetectedFace(box.box, box.score, embedding, crop))
    return FaceSearch(faces, found.rotation, shown.shape[1], shown.shape[0], found.passes)


def extract_faces(rgb: np.ndarray, detector_name: str | None = None, settings: Settings | None = None
                  ) -> list[DetectedFace]:  # fmt: skip
    """``find_faces`` without the orientation search: boxes in ``rgb``'s pixels."""
    return find_faces(rgb, detector_name, settings, orientation_search=False).faces


def detect_and_embed(image_bytes: bytes, name: str = "upload", settings: Settings | None = None
                     ) -> list[DetectedFace]:  # fmt: skip
    """Faces of untrusted image bytes (the web app's /predict), with the configured detector.

    The thumbnail enlargement runs; the orientation search and the tiles do not (boxes stay in the upload's
    pixels, and a request costs one pass). Raises :class:`common.images.InvalidImage` (with the reason) for
    anything the decoder refuses. The
    pixels are held only inside the process's decode slot, so threads of one web process never hold two
    images' worth of memory at once.
    """
    settings = settings or get_settings()
    quick = settings.model_copy(update={"detection_tile_min_face": 0, "detection_tile_always_above": 0})
    with decode_slot:  # no tiles: a web request is answered in the time (and memory) of one pass
        return extract_faces(load_image(image_bytes, name, settings).rgb, None, quick)


__all__ = [
    "EMBEDDER_NAME",
    "DetectedBox",
    "DetectedFace",
    "DetectorUnavailable",
    "FaceDetector",
    "FaceSearch",
    "detect_and_embed",
    "detect_boxes",
    "extract_faces",
    "find_faces",
    "get_detector",
    "get_embedder",
]
