"""The one embedder: dlib 5-point landmarks, a 150x150 aligned chip, the ResNet 128-d descriptor."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import dlib
import face_recognition_models
import numpy as np

from common.face_models.image_io import encode_jpeg
from common.face_models.types import Box

CHIP_SIZE = 150
CHIP_PADDING = 0.25


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


EMBEDDER_NAME = (
    f"dlib-resnet-v1-128d/chip{CHIP_SIZE}-pad{CHIP_PADDING}"
    f"/face-recognition-models-{_version('face-recognition-models')}/dlib-{_version('dlib-bin')}"
)


class DlibEmbedder:
    name = EMBEDDER_NAME

    def __init__(self) -> None:
        self._shape = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
        self._resnet = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())

    def chip(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """The face aligned by its 5 landmarks, 150x150 RGB."""
        left, top, width, height = box
        landmarks = self._shape(rgb, dlib.rectangle(left, top, left + width - 1, top + height - 1))
        return np.ascontiguousarray(dlib.get_face_chip(rgb, landmarks, size=CHIP_SIZE, padding=CHIP_PADDING))

    def embed_chip(self, chip: np.ndarray) -> np.ndarray:
        return np.asarray(self._resnet.compute_face_descriptor(chip), dtype=np.float64)

    def embed(self, rgb: np.ndarray, box: Box) -> tuple[np.ndarray, bytes]:
        """(128-d embedding, 150x150 JPEG crop) of the face in ``box`` (pixels of ``rgb``)."""
        chip = self.chip(rgb, box)
        return self.embed_chip(chip), encode_jpeg(chip)
