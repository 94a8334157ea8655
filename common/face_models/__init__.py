"""The one face-model abstraction: detectors (dlib-hog, dlib-cnn, azure) and the dlib embedder.

``detect_and_embed(image_bytes)`` is what the web app's /predict calls;
``extract_faces(rgb, ...)`` is what the extract task calls on an already validated image.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from common.face_models.embedder import EMBEDDER_NAME
from common.face_models.geometry import downscale, scale_box
from common.face_models.image_io import normalize_to_rgb, to_array
from common.face_models.registry import get_detector, get_embedder
from common.face_models.types import DetectedBox, DetectedFace, DetectorUnavailable, FaceDetector
from common.settings import Settings, get_settings


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


def decode_rgb(image_bytes: bytes, settings: Settings | None = None) -> np.ndarray:
    """Bytes -> RGB array as people see it. Raises ValueError on anything that is not a sane image."""
    settings = settings or get_settings()
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            if image.width * image.height > settings.max_image_pixels:
                raise ValueError(f"image has {image.width}x{image.height} pixels, over the cap")
            return to_array(normalize_to_rgb(image))
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image: {exc}") from exc


def detect_and_embed(image_bytes: bytes) -> list[DetectedFace]:
    """Faces of an image given as bytes (the web app's /predict), with the configured detector."""
    return extract_faces(decode_rgb(image_bytes))


__all__ = [
    "EMBEDDER_NAME",
    "DetectedBox",
    "DetectedFace",
    "DetectorUnavailable",
    "FaceDetector",
    "decode_rgb",
    "detect_and_embed",
    "detect_boxes",
    "extract_faces",
    "get_detector",
    "get_embedder",
]
