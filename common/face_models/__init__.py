"""The one face-model abstraction: detectors (dlib-hog, dlib-cnn, azure) and the dlib embedder.

``detect_and_embed(image_bytes, name)`` is what the web app's /predict calls (decoded by the one
untrusted-image decoder, :mod:`common.images`); ``extract_faces(rgb, ...)`` is what the extract task
calls on an image that decoder already returned.
"""

from __future__ import annotations

import numpy as np

from common.face_models.embedder import EMBEDDER_NAME
from common.face_models.geometry import downscale, scale_box
from common.face_models.registry import get_detector, get_embedder
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


def extract_faces(rgb: np.ndarray, detector_name: str | None = None, settings: Settings | None = None
                  ) -> list[DetectedFace]:  # fmt: skip
    """Every face of an RGB uint8 image (EXIF already applied): box, score, embedding, aligned JPEG crop."""
    settings = settings or get_settings()
    detector = get_detector(detector_name or settings.face_detector.value, settings)
    embedder = get_embedder()
    faces = []
    for found in detect_boxes(rgb, detector, settings.detection_max_side):
        embedding, crop = embedder.embed(rgb, found.box)
        faces.append(DetectedFace(found.box, found.score, embedding, crop))
    return faces


def detect_and_embed(image_bytes: bytes, name: str = "upload", settings: Settings | None = None
                     ) -> list[DetectedFace]:  # fmt: skip
    """Faces of untrusted image bytes (the web app's /predict), with the configured detector.

    Raises :class:`common.images.InvalidImage` (with the reason) for anything the decoder refuses. The
    pixels are held only inside the process's decode slot, so threads of one web process never hold two
    images' worth of memory at once.
    """
    settings = settings or get_settings()
    with decode_slot:
        return extract_faces(load_image(image_bytes, name, settings).rgb, None, settings)


__all__ = [
    "EMBEDDER_NAME",
    "DetectedBox",
    "DetectedFace",
    "DetectorUnavailable",
    "FaceDetector",
    "detect_and_embed",
    "detect_boxes",
    "extract_faces",
    "get_detector",
    "get_embedder",
]
