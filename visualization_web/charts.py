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


def confusion_cells(matrix: list[list[int]], cell: int = 28, offset: int = 150) -> tuple[list[Cell], int]:
    """Cells shaded by each row's share (recall view). Returns the cells and the drawing's size."""
    cells: list[Cell] = []
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, value in enumerate(row):
            fraction = value / total
            cells.append(Cell(offset + j * cell, offset + i * cell, cell, int(value), _shade(fraction),
                              "#ffffff" if fraction > 0.55 else "#1b1f24"))  # fmt: skip
    return cells, offset + len(matrix) * cell + 4
