"""Predict through the prototype index (many prototypes): same answers as an exact scan, same rules, and the
index travels inside the pickle and follows a privacy erase. Small sizes, with the threshold lowered."""

import io
import pickle
import uuid

import joblib
import numpy as np

from common.classifier.model import OpenSetClassifier, normalize
from common.classifier.prototype_index import PrototypeIndex
from common.classifier.synthetic import clustered, faces_of, person_centers

PERSONAS, FACES = 300, 8


def _pid(i: int) -> uuid.UUID:
    return uuid.UUID(int=int(i) + 1)


def _data(seed: int = 7):
    centers, x, y = clustered(PERSONAS, FACES, seed=seed)
    rng = np.random.default_rng(seed + 1)
    who = rng.integers(0, PERSONAS, 400)
    known = np.concatenate([faces_of(centers[p], 1, rng) for p in who])
    strangers = np.concatenate([faces_of(c, 1, rng) for c in person_centers(100, rng)])
    return centers, x, y, np.concatenate([known, strangers]), who


def _fit(x, y, rejected=None, rejected_for=(), threshold=1000):
    model = OpenSetClassifier(index_min_prototypes=threshold)
    return model.fit(x, [_pid(i) for i in y], rejected, [_pid(i) for i in rejected_for])


def _exact(model: OpenSetClassifier, *args, **kwargs):
    saved = model.index_min_prototypes
    model.index_min_prototypes = len(model.prototypes) + 1
    try:
        return model.predict(*args, **kwargs)
    finally:
        model.index_min_prototypes = saved


def _labels(results):
    return [r.persona_id for r in results]


def test_indexed_predictions_agree_with_an_exact_scan_of_every_prototype():
    _, x, y, queries, who = _data()
    model = _fit(x, y)
    assert model.uses_index and model.index is not None and len(model.index) == len(model.prototypes)
    fast, exact = model.predict(queries), _exact(model, queries)
    assert np.mean([a == b for a, b in zip(_labels(fast), _labels(exact), strict=True)]) >= 0.995
    assert np.mean([r.persona_id == _pid(p) for r, p in zip(fast[:400], who, strict=True)]) >= 0.98
    assert all(r.persona_id is None for r in fast[400:])  # strangers stay unknown
    same = [(a, b) for a, b in zip(fast, exact, strict=True) if a.persona_id == b.persona_id and a.persona_id]
    assert all(abs(a.distance - b.distance) < 1e-4 for a, b in same)  # candidates are measured exactly


def test_below_the_threshold_predict_scans_every_prototype():
    _, x, y, _, _ = _data()
    model = _fit(x, y, threshold=len(x) + 1)
    assert not model.uses_index and model.index is None


def test_a_rejected_face_is_never_its_persona_on_the_indexed_path():
    centers, x, y, _, _ = _data()
    rng = np.random.default_rng(3)
    shift = rng.normal(size=centers.shape[1])
    lookalike = centers[5] + 0.45 * shift / np.linalg.norm(shift)  # another person, near persona 5
    looks_like = faces_of(lookalike / np.linalg.norm(lookalike), 3, rng, spread=0.1)  # rejected for 5
    assert all(r.persona_id == _pid(5) for r in _fit(x, y).predict(looks_like))  # the mistake, before
    model = _fit(x, y, looks_like, [5, 5, 5])
    assert all(r.persona_id != _pid(5) for r in model.predict(looks_like))
    assert _labels(model.predict(looks_like)) == _labels(_exact(model, looks_like))
    own = faces_of(centers[5], 4, rng, spread=0.1)
    assert all(r.persona_id == _pid(5) for r in model.predict(own))
    excluded = model.predict(own, exclude=[{_pid(5)}] * len(own))  # a human said "not 5" for these faces
    assert all(r.persona_id != _pid(5) for r in excluded)


def test_two_faces_of_one_image_get_two_personas_on_the_indexed_path():
    centers, x, y, _, _ = _data()
    rng = np.random.default_rng(4)
    twins = faces_of(centers[9], 2, rng, spread=0.1)  # both look like persona 9, in one image
    model = _fit(x, y)
    fast = model.predict(twins, ["image-1", "image-1"])
    assert sum(r.persona_id == _pid(9) for r in fast) == 1
    assert _labels(fast) == _labels(_exact(model, twins, ["image-1", "image-1"]))
    apart = model.predict(twins, ["image-1", "image-2"])
    assert all(r.persona_id == _pid(9) for r in apart)


def test_a_joblib_round_trip_keeps_the_index_and_predicts_the_same():
    _, x, y, queries, _ = _data()
    model = _fit(x, y)
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    loaded = joblib.load(io.BytesIO(buffer.getvalue()))
    assert isinstance(loaded.index, PrototypeIndex) and loaded.uses_index
    assert loaded.predict(queries, [f"i{i // 2}" for i in range(len(queries))]) == model.predict(
        queries, [f"i{i // 2}" for i in range(len(queries))]
    )


def test_a_model_pickled_before_the_index_existed_still_predicts_the_same():
    _, x, y, queries, _ = _data()
    model = _fit(x, y)
    old = OpenSetClassifier.__new__(OpenSetClassifier)
    old.__dict__.update({k: v for k, v in model.__dict__.items()
                         if k not in ("index", "index_min_prototypes", "index_top_k", "softmax_personas")})  # fmt: skip
    old.index_min_prototypes = 1000  # the class default (20k) would scan: lower it to use the index
    restored = pickle.loads(pickle.dumps(old))
    assert _labels(restored.predict(queries)) == _labels(model.predict(queries))
    assert restored.index is not None  # built at first predict


def test_an_erased_prototype_is_never_a_candidate():
    _, x, y, queries, _ = _data()
    model = _fit(x, y)
    erased = np.vstack([x[y == 3], x[y == 4][:2]])  # every face of persona 3, two of persona 4
    clean = model.without(erased)
    assert clean.uses_index and len(clean.index) == len(clean.prototypes)
    ids = clean.index.search(clean.prototypes, normalize(erased), 16)
    found = clean.prototypes[ids[ids >= 0]]
    assert not ((found @ normalize(erased).T) > 0.99999).any()
    assert all(r.persona_id != _pid(3) for r in clean.predict(erased))
    assert _labels(clean.predict(queries)) == _labels(_exact(clean, queries))


def test_the_index_finds_nearest_neighbours_and_stores_no_vectors():
    _, x, y, queries, _ = _data()
    xn, known = normalize(x), normalize(queries[:400])
    index = PrototypeIndex.build(xn)
    found = index.search(xn, known, 4)
    truth = np.argmax(known @ xn.T, axis=1)
    assert np.mean(found[:, 0] == truth) >= 0.95  # the very nearest face ...
    assert np.mean(y[found[:, 0]] == y[truth]) >= 0.99  # ... or one of the same person
    assert len(pickle.dumps(index)) < xn.nbytes / 5  # the vectors are the classifier's, not stored twice


def test_an_index_built_on_earlier_lists_finds_the_same_neighbours_away_from_what_changed():
    """A new version reusing the lists of the one before answers every query the same, except where a
    prototype was added (the stability a scoped refresh relies on)."""
    rng = np.random.default_rng(11)
    base = normalize(rng.normal(size=(6000, 128)))
    old = PrototypeIndex.build(base, nlist=64, nprobe=8)
    added = normalize(rng.normal(size=(1, 128)))
    grown = np.concatenate([base, added])
    new = PrototypeIndex.build(grown, centroids=old.centroids)
    assert np.array_equal(new.centroids, old.centroids) and new.nprobe == old.nprobe
    queries = normalize(rng.normal(size=(300, 128)))
    before, after = old.search(base, queries, 10), new.search(grown, queries, 10)
    touched = (after == len(base)).any(axis=1)  # the new prototype is among a query's answers
    assert np.array_equal(before[~touched], after[~touched])
