"""How predictions move the predicted / unknown counts, and that the counters' copies of other modules'
constants (kept to avoid an import cycle) and the reconcile message's names agree with the originals."""

from __future__ import annotations

import typing
import uuid

import pytest

from common.infra.messages import CorpusCount, InvalidMessage, ReconcileCorpusCounts
from common.repositories import corpus_counters, labels, personas
from common.repositories.corpus_counters import PREDICTED, UNKNOWN, prediction_deltas, prediction_kind


def test_a_prediction_is_predicted_with_a_persona_and_unknown_without():
    assert prediction_kind(uuid.uuid4()) == PREDICTED and prediction_kind(None) == UNKNOWN


@pytest.mark.parametrize(
    ("changes", "deltas"),
    [
        ([(None, PREDICTED)], {PREDICTED: 1, UNKNOWN: 0}),  # a new face predicted
        ([(None, UNKNOWN), (None, UNKNOWN)], {PREDICTED: 0, UNKNOWN: 2}),
        ([(UNKNOWN, PREDICTED)], {PREDICTED: 1, UNKNOWN: -1}),  # a new model knows it
        ([(PREDICTED, PREDICTED), (UNKNOWN, UNKNOWN)], {PREDICTED: 0, UNKNOWN: 0}),  # replaced, same kind
        ([(PREDICTED, None)], {PREDICTED: -1, UNKNOWN: 0}),  # confirmed: its prediction goes
    ],
)
def test_prediction_deltas(changes, deltas):
    assert prediction_deltas(changes) == deltas


def test_copies_of_other_modules_constants_agree():
    assert corpus_counters.LABEL_BUCKETS == labels.BUCKETS
    assert corpus_counters.PERSONAS_BUCKET == personas.BUCKET


def test_the_reconcile_message_names_exactly_the_counts():
    assert set(typing.get_args(CorpusCount)) == set(corpus_counters.NAMES)
    assert ReconcileCorpusCounts.parse({}).names == ()
    assert ReconcileCorpusCounts.parse({"names": ["predicted", "unknown"]}).names == ("predicted", "unknown")
    with pytest.raises(InvalidMessage, match="names"):
        ReconcileCorpusCounts.parse({"names": ["rejected_files"]})


def test_an_unknown_count_is_refused_before_anything_is_written():
    with pytest.raises(ValueError, match="no corpus count"):
        corpus_counters.add_many(None, {"imgs": 1})  # type: ignore[arg-type]


def test_predicted_and_unknown_are_counted_by_one_scan():
    assert corpus_counters.scans(corpus_counters.NAMES) == [("images",), ("faces",), ("personas",), ("confirmed",),
                                                           ("predicted", "unknown")]  # fmt: skip
    assert corpus_counters.scans(["unknown", "images"]) == [("images",), ("unknown",)]
    with pytest.raises(ValueError, match="no corpus count"):
        corpus_counters.scans(["rejected_files"])
