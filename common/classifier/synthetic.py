"""Synthetic face embeddings for tests and benchmarks: clusters of L2-normalised 128-d vectors.

Realistic spreads for dlib-like geometry on the unit sphere: faces of one person lie
within about 0.35 of each other, different people about 0.8-1.0 apart.
"""

from __future__ import annotations

import numpy as np

DIM = 128


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def person_centers(n: int, rng: np.random.Generator, center_distance: float = 0.9) -> np.ndarray:
    """``n`` identity centres about ``center_distance`` apart (a shared component pulls them together)."""
    shared = _unit(rng.normal(size=DIM))
    pull = np.sqrt(max(2.0 / center_distance**2 - 1.0, 0.0))
    return _unit(pull * shared + _unit(rng.normal(size=(n, DIM))))


def faces_of(center: np.ndarray, n: int, rng: np.random.Generator, spread: float = 0.22) -> np.ndarray:
    """``n`` faces of one person: each about ``spread`` from the centre (pairs about spread * sqrt(2))."""
    noise = rng.normal(size=(n, DIM)) * (spread / np.sqrt(DIM))
    return _unit(center + noise).astype(np.float32)


def clustered(n_personas: int, faces_per_persona: int, seed: int = 0, spread: float = 0.22,
              center_distance: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(centers, embeddings, persona index per embedding)."""
    rng = np.random.default_rng(seed)
    centers = person_centers(n_personas, rng, center_distance)
    x = np.concatenate([faces_of(c, faces_per_persona, rng, spread) for c in centers])
    y = np.repeat(np.arange(n_personas), faces_per_persona)
    return centers, x, y
