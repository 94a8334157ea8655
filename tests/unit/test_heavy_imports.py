"""Processes load only the native libraries they use: each one raises the peak memory of every worker and web
process (the hostile-input suite's 600 MB limits), so scikit-learn (evaluation) and FAISS (the prototype
index) stay out of the processes that never train or search a large model at import time, and offapi (9 MB
of scripts read into memory: the docs page serves its files from disk) out of every process."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("sklearn", "faiss", "offapi")


@pytest.mark.parametrize("module", ["input_worker.tasks", "visualization_web.app", "trainer_worker.tasks"])
def test_importing_a_service_loads_neither_scikit_learn_nor_faiss_nor_offapi(module):
    probe = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    if module == "trainer_worker.tasks":  # trains: evaluation (scikit-learn) is its job; FAISS waits for a search
        assert "faiss" not in loaded, loaded
    else:
        assert loaded.strip() == "[]", f"{module} loads {loaded.strip()}"
