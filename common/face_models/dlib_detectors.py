"""dlib detectors: the HOG frontal detector (fast) and the MMOD CNN (slower, finds more)."""

from __future__ import annotations

import dlib
import face_recognition_models
import numpy as np

from common.face_models.geometry import ltrb_to_box
from common.face_models.types import DetectedBox


def _clip(box, width: int, height: int) -> tuple[int, int, int, int]:
    left, top = max(0, box[0]), max(0, box[1])
    right, bottom = min(width, box[0] + box[2]), min(height, box[1] + box[3])
    return (left, top, max(1, right - left), max(1, bottom - top))


# HOG margins below this are mostly textures (astronaut's flag patch scores 0.12 with one upsample),
# while the small background face of faces-small/test/obama_and_biden.jpg scores 0.41.
HOG_MIN_SCORE = 0.25
WINDOW = 80  # both dlib detectors scan an 80 x 80 window: the smallest face they see, halved by each upsampling


class DlibHogDetector:
    name = "dlib-hog"

    def __init__(self, upsample: int = 1, min_score: float = HOG_MIN_SCORE):
        self.upsample = upsample
        self.min_score = min_score
        self.min_face = WINDOW / 2**upsample
        self._detector = dlib.get_frontal_face_detector()

    def detect(self, rgb: np.ndarray) -> list[DetectedBox]:
        rects, scores, _kinds = self._detector.run(rgb, self.upsample, self.min_score)
        height, width = rgb.shape[:2]
        out = []
        for rect, score in zip(rects, scores, strict=True):
            box = _clip(ltrb_to_box(rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1), width, height)
            out.append(DetectedBox(box, float(score)))
        return out


class DlibCnnDetector:
    name = "dlib-cnn"

    def __init__(self, upsample: int = 1):
        self.upsample = upsample
        self.min_face = WINDOW / 2**upsample
        self._detector = dlib.cnn_face_detection_model_v1(face_recognition_models.cnn_face_detector_model_location())

    def detect(self, rgb: np.ndarray) -> list[DetectedBox]:
        height, width = rgb.shape[:2]
        out = []
        for found in self._detector(rgb, self.upsample):
            rect = found.rect
            box = _clip(ltrb_to_box(rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1), width, height)
            out.append(DetectedBox(box, float(found.confidence)))
        return out
