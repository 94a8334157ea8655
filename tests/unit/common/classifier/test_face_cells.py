"""The index of all faces: k-means cells, and which cells a radius query reads."""

from __future__ import annotations

import numpy as np

from common.classifier import face_cells as cells
from common.classifier.model import normalize
from common.classifier.synthetic import faces_of, person_centers


def _corpus(people: int = 60, per_person: int = 30, seed: int = 9) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = person_centers(people, rng)
    return normalize(np.concatenate([faces_of(c, per_person, rng) for c in centers]))


def test_cell_count_follows_the_corpus_within_bounds():
    assert cells.cell_count(0, 1000) == cells.MIN_CELLS
    assert cells.cell_count(1_000_000, 1000) == 1000
    assert cells.cell_count(100_000_000, 1000) == cells.MAX_CELLS


def test_a_radius_query_through_the_cells_finds_the_faces_a_full_scan_finds():
    unit = _corpus()
    centroids = cells.kmeans(unit, 64)
    assigned = cells.assign(unit, centroids)
    margin = cells.spread(unit, centroids)
    rng = np.random.default_rng(1)
    radius = 0.6
    found = expected = 0
    for query in unit[rng.choice(len(unit), 25, replace=False)]:
        near = cells.within(unit, query[None, :], radius)
        read = cells.cells_to_read(query[None, :], centroids, radius, margin, 2, 16)
        via_cells = near & np.isin(assigned, read)
        expected, found = expected + int(near.sum()), found + int(via_cells.sum())
        assert len(read) <= 16  # at most max_cells of the 64 cells: a part of the corpus, whatever its size
    assert found / expected >= 0.99


def test_within_uses_distances_between_unit_vectors():
    a = normalize(np.eye(128, dtype=np.float32)[:1])
    b = normalize(np.eye(128, dtype=np.float32)[1:2])  # sqrt(2) away
    assert not cells.within(b, a, 1.4)[0] and cells.within(b, a, 1.42)[0]


def test_kmeans_of_fewer_rows_than_cells_keeps_the_rows():
    unit = _corpus(people=2, per_person=3)
    assert np.allclose(cells.kmeans(unit, 16), unit)
