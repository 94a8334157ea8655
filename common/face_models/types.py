"""The data every face model exchanges: boxes in pixels, detected faces with embeddings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

Box = tuple[int, int, int, int]  # left, top, width, height


@dataclass(frozen=True)
class DetectedBox:
    """One detection in the pixel coordinates of the array the detector was given."""

    box: Box
    score: float | None = None


@dataclass(frozen=True)
class DetectedFace:
    """One face of an image: box in original (EXIF-oriented) pixels, 128-d embedding, aligned crop."""

    box: Box
    score: float | None
    embedding: np.ndarray = field(repr=False)
    crop_jpeg: bytes = field(repr=False)


class DetectorUnavailable(RuntimeError):
    """The detector cannot run now (service throttled or down): retry later, never drop the work."""


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in an RGB uint8 array (H x W x 3); boxes are in that array's pixels."""

    name: str

    def detect(self, rgb: np.ndarray) -> list[DetectedBox]: ...
