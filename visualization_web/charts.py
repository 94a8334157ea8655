"""Geometry for the inline SVG charts (no scripts, no CDN): per-persona F1 bars and a confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


def f1_bars(per_persona: dict[str, dict], names: dict[str, str], width: int = 640,
            row: int = 22, label_width: int = 180) -> tuple[list[Bar], int]:  # fmt: skip
    """Horizontal bars, worst F1 first (the personas that need labels). Returns the bars and the height."""
    items = sorted(((names.get(pid, pid[:8]), float(m.get("f1") or 0.0)) for pid, m in per_persona.items()),
                   key=lambda item: (item[1], item[0]))  # fmt: skip
    span = width - label_width - 60
    bars = [Bar(name, f1, label_width, i * row + 4, max(1.0, span * f1), row - 6) for i, (name, f1) in enumerate(items)]
    return bars, len(items) * row + 8


@dataclass(frozen=True)
class Cell:
    x: int
    y: int
    size: int
    value: int
    fill: str
    text_fill: str


def _shade(fraction: float) -> str:
    # white -> deep blue
    r = int(255 - 215 * fraction)
    g = int(255 - 170 * fraction)
    b = int(255 - 55 * fraction)
    return f"#{r:02x}{g:02x}{b:02x}"


MAX_MATRIX_LABELS = 30  # beyond this a grid of 28-pixel cells is unreadable: the page lists the confusions


def confusion_counts(confusion: dict) -> dict[tuple[int, int], int]:
    """(truth index, predicted index) -> faces, from a model's metrics: the nonzero ``cells`` or, for
    versions evaluated before they were stored sparsely, the dense ``matrix``."""
    if "cells" in confusion:
        return {(int(i), int(j)): int(n) for i, j, n in confusion["cells"]}
    return {(i, j): int(n) for i, row in enumerate(confusion.get("matrix") or []) for j, n in enumerate(row) if n}


def _row_totals(counts: dict[tuple[int, int], int]) -> dict[int, int]:
    """Faces per truth (row)."""
    totals: dict[int, int] = {}
    for (i, _), n in counts.items():
        totals[i] = totals.get(i, 0) + n
    return totals


def confusion_cells(counts: dict[tuple[int, int], int], n_labels: int, cell: int = 28,
                    offset: int = 150) -> tuple[list[Cell], int]:  # fmt: skip
    """Every cell of the matrix, shaded by its row's share (recall view). Returns the cells and the size."""
    totals = _row_totals(counts)
    cells: list[Cell] = []
    for i in range(n_labels):
        for j in range(n_labels):
            value = counts.get((i, j), 0)
            fraction = value / (totals.get(i) or 1)
            cells.append(Cell(offset + j * cell, offset + i * cell, cell, value, _shade(fraction),
                              "#ffffff" if fraction > 0.55 else "#1b1f24"))  # fmt: skip
    return cells, offset + n_labels * cell + 4


@dataclass(frozen=True)
class Confusion:
    truth: str
    predicted: str
    faces: int
    share: float  # of the truth's evaluated faces


def most_confused(counts: dict[tuple[int, int], int], labels: list[str], limit: int = 20) -> list[Confusion]:
    """The largest off-diagonal cells: which persona is taken for which, most faces first."""
    totals = _row_totals(counts)
    off = sorted(((n, i, j) for (i, j), n in counts.items() if i != j), key=lambda c: (-c[0], c[1], c[2]))
    return [Confusion(labels[i], labels[j], n, n / totals[i]) for n, i, j in off[:limit]]
