"""The face classifier shared by the trainer (training, reclassification) and the web app (/predict).

``load_active(db)`` returns the active version's classifier (hot-reloaded);
``registry`` holds versions, promotion and rollback.
"""

from common.classifier.active import ActiveClassifier, clear_cache, load_active
from common.classifier.artifacts import ArtifactIntegrityError
from common.classifier.model import OpenSetClassifier, PredictionResult, TrainingDataError

__all__ = [
    "ActiveClassifier",
    "ArtifactIntegrityError",
    "OpenSetClassifier",
    "PredictionResult",
    "TrainingDataError",
    "clear_cache",
    "load_active",
]
