"""A privacy erase rewrites a classifier without the erased embeddings; the rest predicts as before."""

import uuid

import numpy as np

from common.classifier.model import OpenSetClassifier, normalize
from common.classifier.synthetic import clustered


def _fit():
    _, x, y = clustered(3, 4, seed=3)
    personas = [uuid.UUID(int=int(i) + 1) for i in y]
    rejected = x[y == 0][:1] + 0.01
    return OpenSetClassifier().fit(x, personas, rejected, [uuid.UUID(int=2)]), x, y


def test_without_drops_the_erased_rows_and_a_persona_left_with_no_face():
    model, x, y = _fit()
    erased = np.vstack([x[y == 0], x[y == 1][:1]])  # every face of persona 1, one of persona 2
    assert model.holds_any(erased)
    clean = model.without(erased)
    assert not clean.holds_any(erased)
    assert clean.persona_ids == [str(uuid.UUID(int=2)), str(uuid.UUID(int=3))]
    assert len(clean.prototypes) == len(model.prototypes) - len(erased)
    assert not ((clean.prototypes @ normalize(erased).T) > 0.99999).any()
    kept = x[y == 2]
    assert [r.persona_id for r in clean.predict(kept)] == [r.persona_id for r in model.predict(kept)]


def test_without_nothing_matching_keeps_every_row():
    model, x, _ = _fit()
    stranger = np.random.default_rng(9).normal(size=(2, 128))
    assert not model.holds_any(stranger)
    clean = model.without(stranger)
    assert clean.persona_ids == model.persona_ids and len(clean.prototypes) == len(model.prototypes)
    assert len(clean.rejected) == len(model.rejected)
    assert [r.persona_id for r in clean.predict(x)] == [r.persona_id for r in model.predict(x)]
