"""Unknown faces grouped by similarity: agglomerative clustering of their embeddings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from common.db import Database
from common.repositories import faces, images, labels, predictions
from visualization_web import queries

THRESHOLD = 0.5
MAX_FACES = 600


@dataclass
class Group:
    cards: list[queries.FaceCard]

    @property
    def face_ids(self) -> list[str]:
        return [c.face_id for c in self.cards]


def group_embeddings(vectors: np.ndarray, threshold: float = THRESHOLD) -> list[list[int]]:
    """Indices grouped so that members are on average closer than ``threshold``; largest group first."""
    if len(vectors) == 0:
        return []
    if len(vectors) == 1:
        return [[0]]
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, linkage="average")
    assignment = model.fit_predict(vectors)
    groups: dict[int, list[int]] = {}
    for index, cluster in enumerate(assignment):
        groups.setdefault(int(cluster), []).append(index)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def unknown_face_ids(db: Database, limit: int = MAX_FACES) -> list[str]:
    """Faces the active model calls unknown; without a model, unlabeled faces of the newest images."""
    version = queries.active_version(db)
    if version is not None:
        generation = queries.queue_version(db) or version
        return [p.face_id for p in predictions.queue(db, None, generation, limit=limit)]
    # two rounds of concurrent reads (the images' faces, then their labels), not a read per image and per face
    recent = [image_id for _, image_id, _ in images.list_recent(db, limit=200)]
    per_image = faces.ids_of_images(db, recent)
    face_ids = [face_id for image_id in recent for face_id in per_image[image_id]]
    confirmed = labels.confirmed_among(db, face_ids)
    return [face_id for face_id in face_ids if face_id not in confirmed][:limit]


def unknown_groups(db: Database, threshold: float = THRESHOLD, limit: int = MAX_FACES) -> list[Group]:
    found = queries.faces_by_id(db, unknown_face_ids(db, limit))
    sizes = Counter(f.embedding.size for f in found.values() if f.embedding.size)
    if not sizes:
        return []
    dimension = sizes.most_common(1)[0][0]  # one embedder's vectors only
    ordered = [f for f in found.values() if f.embedding.size == dimension]
    vectors = np.vstack([f.embedding for f in ordered])
    return [
        Group(
            [
                queries.FaceCard(ordered[i].face_id, ordered[i].image_id, ordered[i].crop_key, ordered[i].box)
                for i in members
            ]
        )
        for members in group_embeddings(vectors, threshold)
    ]
