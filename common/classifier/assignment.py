"""Two faces of one image are two different people: resolve each image by assignment on scores."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

_EPS = 1e-9
_FORBIDDEN = 1e9


def assign_within_groups(prob: np.ndarray, accept: np.ndarray, choice: np.ndarray,
                         groups: Sequence[str]) -> np.ndarray:  # fmt: skip
    """Per group of rows, the persona choice maximising the joint log-probability, each persona at most once.

    ``prob`` (n, personas), ``accept`` marks the (row, persona) pairs allowed at all, ``choice`` the
    independent choice (-1 = unknown). Rows that cannot get an acceptable persona become unknown.
    """
    if len(groups) != len(choice):
        raise ValueError("groups needs one entry per embedding")
    members: dict[str, list[int]] = defaultdict(list)
    for row, group in enumerate(groups):
        members[group].append(row)
    out = choice.copy()
    for rows in members.values():
        chosen = [out[r] for r in rows if out[r] >= 0]
        if len(chosen) == len(set(chosen)):
            continue  # no conflict
        out[rows] = _assign(prob[rows], accept[rows])
    return out


def _assign(prob: np.ndarray, accept: np.ndarray) -> np.ndarray:
    n = len(prob)
    candidates = np.flatnonzero(accept.any(axis=0))
    persona_cost = np.where(accept[:, candidates], -np.log(prob[:, candidates] + _EPS), _FORBIDDEN)
    # one private "unknown" column per row; being unknown costs more than any acceptable persona
    unknown_cost = np.full((n, n), _FORBIDDEN)
    np.fill_diagonal(unknown_cost, -np.log(_EPS) + 1.0)
    cost = np.concatenate([persona_cost, unknown_cost], axis=1)
    rows, cols = linear_sum_assignment(cost)
    result = np.full(n, -1)
    for r, c in zip(rows, cols, strict=True):
        if c < len(candidates) and cost[r, c] < _FORBIDDEN:
            result[r] = candidates[c]
    return result
