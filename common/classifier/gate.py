"""The quality gate: a candidate replaces the active model only if it is at least as good."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


def decide(candidate: dict, active: dict | None, tolerance: float) -> GateDecision:
    """Promote when there is no active model, when either side has no macro-F1 to compare
    (too few faces held out), or when candidate macro-F1 >= active macro-F1 - tolerance."""
    if active is None:
        return GateDecision(True, "first model: promoted without comparison")
    new, old = candidate.get("macro_f1"), active.get("macro_f1")
    if new is None:
        return GateDecision(True, "no persona has 2+ confirmed faces to hold out: nothing to compare")
    if old is None:
        return GateDecision(True, f"macro-F1 {new:.3f}; the active model had none to compare")
    if new >= old - tolerance:
        return GateDecision(True, f"macro-F1 {new:.3f} >= active {old:.3f} - tolerance {tolerance:g}")
    return GateDecision(False, f"macro-F1 {new:.3f} < active {old:.3f} - tolerance {tolerance:g}")
