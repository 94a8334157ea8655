"""`make demo`'s loop with real workers: the train folder imported with labels from folders, test/ and extra/
ingested unlabeled, retrain and reclassification awaited; every image gets the personas expected.json lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.demo import builtin_dataset, format_table, run_demo

pytestmark = pytest.mark.e2e

# In CI the dataset sits next to the repository (../shared/datasets/faces-small); on this machine in /work/shared.
ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = (ROOT.parent / "shared" / "datasets" / "faces-small", Path("/work/shared/datasets/faces-small"))


@pytest.fixture
def workers(start_worker):
    start_worker("input_worker.app", "ingest,extract", concurrency=2)
    start_worker("trainer_worker.app", "retrain", concurrency=1)
    start_worker("trainer_worker.app", "reclassify", concurrency=1)


def _dataset(tmp_path: Path) -> Path:
    return next((c for c in CANDIDATES if (c / "train").is_dir()), None) or builtin_dataset(tmp_path / "builtin")


def test_demo_predicts_the_expected_personas(clean_tables, workers, tmp_path):
    dataset = _dataset(tmp_path)
    expected = {k: v for k, v in json.loads((dataset / "expected.json").read_text()).items() if isinstance(v, list)}

    rows = run_demo(clean_tables, dataset, actor="e2e", timeout=480, say=lambda _line: None)

    table = format_table(rows)
    assert {r.image for r in rows} == set(expected), table
    for row in rows:
        assert sorted(row.personas) == sorted(expected[row.image]), f"{row.image}\n{table}"
        assert row.faces == len(expected[row.image])
        assert all(score is not None and 0.0 <= score <= 1.0 for score in row.scores), table


def test_demo_falls_back_to_images_dependencies_ship(tmp_path):
    dataset = builtin_dataset(tmp_path / "builtin")
    expected = json.loads((dataset / "expected.json").read_text())
    assert sorted(p.name for p in (dataset / "train").iterdir()) == ["astronaut", "grace_hopper"]
    assert all((dataset / image).is_file() for image in expected)
