"""Seed images, faces (with crops in the blob store), personas, labels and predictions directly.

For web, e2e and reliability tests that need data without running the input worker.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from PIL import Image as PILImage

from common.db import Database
from common.repositories import corpus_counters, faces, ids, images, predictions, read_model  # re-exported
from common.storage import content_key, get_blob_store, sha256_hex


@dataclass
class SeededImage:
    image_id: str
    width: int
    height: int
    face_ids: list[str] = field(default_factory=list)


def jpeg(width: int = 320, height: int = 240, seed: int = 0) -> bytes:
    """A small, distinct JPEG (a colour gradient with a seed-dependent tint)."""
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    tint = rng.integers(0, 255, size=3).astype(np.float32)[None, None, :]
    pixels = ((base * 0.6 + tint * 0.4) * np.ones((height, 1, 1), np.float32)).clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def embedding_near(center: np.ndarray, rng: np.random.Generator, spread: float = 0.02) -> np.ndarray:
    return (center + rng.normal(0, spread, size=center.shape)).astype(np.float32)


def centers(count: int, dim: int = 128, seed: int = 7) -> list[np.ndarray]:
    """Well separated cluster centres (pairwise distance ~ 1.4)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        v = rng.normal(size=dim)
        out.append((v / np.linalg.norm(v)).astype(np.float32))
    return out


def seed_image(db: Database, embeddings: list[np.ndarray], name: str = "seed.jpg", seed: int = 0,
               width: int = 320, height: int = 240) -> SeededImage:  # fmt: skip
    """One image with one face per embedding (boxes side by side); crops are real JPEGs in the blob store."""
    store = get_blob_store()
    data = jpeg(width, height, seed)
    image_id = sha256_hex(data)
    blob_key = content_key("images", image_id, ".jpg")
    store.put_if_absent(blob_key, data)
    now = datetime.now(UTC)
    image = images.Image(image_id, blob_key, "seed", name, len(data), width, height, "JPEG", images.STORED,
                         None, None, None, None, now, None)  # fmt: skip
    new_image, _ = images.insert_if_absent(db, image)
    seeded = SeededImage(image_id, width, height)
    picture = PILImage.open(io.BytesIO(data))
    size = max(16, min(height // 2, width // max(1, len(embeddings)) - 8))
    for index, vector in enumerate(embeddings):
        box = (4 + index * (size + 8), height // 4, size, size)
        buffer = io.BytesIO()
        picture.crop((box[0], box[1], box[0] + size, box[1] + size)).save(buffer, format="JPEG")
        crop = buffer.getvalue()
        crop_key = content_key("crops", sha256_hex(crop), ".jpg")
        store.put_if_absent(crop_key, crop)
        face_id = ids.face_id(image_id, box)
        face = faces.Face(face_id, image_id, box, "seed", 0.99, np.asarray(vector), "seed-128", crop_key, now)
        faces.upsert(db, face)
        seeded.face_ids.append(face_id)
    corpus_counters.add(db, corpus_counters.FACES, len(embeddings) if new_image else 0)  # as extraction counts
    images.mark_processed(db, image_id, len(embeddings))
    return seeded


def seed_faces(db: Database, count: int, center: np.ndarray, seed: int = 1, per_image: int = 1,
               name_prefix: str = "img") -> list[str]:  # fmt: skip
    """``count`` faces near ``center`` over ``count / per_image`` images; returns the face ids."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for index in range(0, count, per_image):
        vectors = [embedding_near(center, rng) for _ in range(min(per_image, count - index))]
        out += seed_image(db, vectors, f"{name_prefix}-{seed}-{index}.jpg", seed=seed * 100_000 + index).face_ids
    return out


def set_active_model(db: Database, version: int) -> None:
    """Mark ``version`` as the active model (for review-queue tests without a trainer run)."""
    now = datetime.now(UTC)
    db.execute("INSERT INTO active_model (name, version, updated_at) VALUES (?, ?, ?)", ("default", version, now))
    read_model.changed(db)  # as the registry does


def predict(db: Database, face_id: str, image_id: str, persona_id: uuid.UUID | None, score: float,
            version: int = 1) -> None:  # fmt: skip
    predictions.put(db, predictions.Prediction(face_id, persona_id, score, 0.3, version, image_id))
