"""The models page's confusion matrix: read from the sparse cells (or an older version's dense matrix),
drawn while it is small, and its largest confusions listed at any size."""

from visualization_web import charts


def test_sparse_cells_and_an_older_dense_matrix_read_the_same():
    dense = {"labels": ["a", "b", "unknown"], "matrix": [[5, 1, 0], [0, 4, 2], [0, 0, 0]]}
    sparse = {"labels": ["a", "b", "unknown"], "cells": [[0, 0, 5], [0, 1, 1], [1, 1, 4], [1, 2, 2]]}
    assert charts.confusion_counts(dense) == charts.confusion_counts(sparse) == {
        (0, 0): 5, (0, 1): 1, (1, 1): 4, (1, 2): 2}  # fmt: skip
    cells, size = charts.confusion_cells(charts.confusion_counts(sparse), 3)
    assert len(cells) == 9 and [c.value for c in cells] == [5, 1, 0, 0, 4, 2, 0, 0, 0]
    assert size == 150 + 3 * 28 + 4


def test_the_largest_confusions_come_first_with_their_share_of_the_truth():
    counts = {(0, 0): 6, (0, 1): 2, (1, 1): 3, (1, 0): 1, (1, 2): 4, (2, 2): 9}
    pairs = charts.most_confused(counts, ["Ada", "Bo", "unknown"])
    assert [(p.truth, p.predicted, p.faces) for p in pairs] == [
        ("Bo", "unknown", 4),
        ("Ada", "Bo", 2),
        ("Bo", "Ada", 1),
    ]
    assert pairs[0].share == 4 / 8 and pairs[1].share == 2 / 8
    assert charts.most_confused({(0, 0): 3}, ["Ada"]) == []
