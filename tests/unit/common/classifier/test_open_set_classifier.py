"""The classifier on synthetic embeddings: small data, open set, rejections, one persona per face of an image."""

import uuid

import numpy as np

from common.classifier.model import OpenSetClassifier, normalize
from common.classifier.synthetic import clustered, faces_of, person_centers

P = [uuid.UUID(int=i + 1) for i in range(50)]


def _fit(x, y, rejected=None, rejected_ids=()):
    return OpenSetClassifier(unknown_distance=0.6, min_probability=0.35).fit(
        x, [P[i] for i in y], rejected, list(rejected_ids)
    )


def test_one_persona_with_a_single_face_recognises_that_person_and_nobody_else():
    rng = np.random.default_rng(3)
    alice, stranger = person_centers(2, rng)
    model = _fit(faces_of(alice, 1, rng), [0])
    same = model.predict(faces_of(alice, 20, rng))
    other = model.predict(faces_of(stranger, 20, rng))
    assert all(r.persona_id == P[0] for r in same)
    assert all(0.0 < r.distance < 0.6 and r.score >= 0.35 for r in same)
    assert all(r.persona_id is None for r in other)


def test_two_faces_per_persona_are_enough_to_tell_ten_people_apart():
    centers, x, y = clustered(10, 2, seed=4)
    model = _fit(x, y)
    rng = np.random.default_rng(5)
    new = np.concatenate([faces_of(c, 5, rng) for c in centers])
    truth = np.repeat(np.arange(10), 5)
    predicted = [r.persona_id for r in model.predict(new)]
    assert np.mean([p == P[t] for p, t in zip(predicted, truth, strict=True)]) >= 0.98


def test_faces_of_people_without_a_persona_are_unknown():
    rng = np.random.default_rng(6)
    centers = person_centers(25, rng)
    known, strangers = centers[:5], centers[5:]
    x = np.concatenate([faces_of(c, 4, rng) for c in known])
    model = _fit(x, np.repeat(np.arange(5), 4))
    unknown = model.predict(np.concatenate([faces_of(c, 3, rng) for c in strangers]))
    assert np.mean([r.persona_id is None for r in unknown]) >= 0.98
    assert all(r.distance > 0.6 for r in unknown)


def test_a_rejected_face_is_never_predicted_as_that_persona_and_its_neighbours_are_pushed_away():
    rng = np.random.default_rng(7)
    alice, lookalike = person_centers(2, rng, center_distance=0.5)  # a lookalike within the threshold
    confirmed = faces_of(alice, 5, rng)
    impostor = faces_of(lookalike, 1, rng)
    before = _fit(confirmed, [0] * 5)
    assert before.predict(impostor)[0].persona_id == P[0]  # the mistake a human then rejects
    after = _fit(confirmed, [0] * 5, impostor, [P[0]])
    assert after.predict(impostor)[0].persona_id is None
    near_impostor = faces_of(lookalike, 10, rng, spread=0.1)
    assert all(r.persona_id != P[0] for r in after.predict(near_impostor))
    assert all(r.persona_id == P[0] for r in after.predict(faces_of(alice, 10, rng, spread=0.1)))


def test_excluded_personas_are_not_predicted_for_that_row():
    centers, x, y = clustered(2, 3, seed=8)
    model = _fit(x, y)
    face = faces_of(centers[0], 1, np.random.default_rng(9))
    assert model.predict(face)[0].persona_id == P[0]
    assert model.predict(face, exclude=[{P[0]}])[0].persona_id != P[0]


def test_two_faces_of_one_image_never_get_the_same_persona():
    rng = np.random.default_rng(10)
    centers, x, y = clustered(2, 4, seed=11)
    close, closer = faces_of(centers[0], 1, rng, spread=0.3), faces_of(centers[0], 1, rng, spread=0.05)
    pair = np.concatenate([close, closer])
    model = _fit(x, y)
    assert [r.persona_id for r in model.predict(pair)] == [P[0], P[0]]  # independently: both alice
    grouped = model.predict(pair, groups=["img", "img"])
    assert grouped[1].persona_id == P[0]  # the better match keeps the persona
    assert grouped[0].persona_id != P[0]
    # different images are independent
    assert [r.persona_id for r in model.predict(pair, groups=["a", "b"])] == [P[0], P[0]]


def test_assignment_maximises_the_joint_fit_of_an_image():
    rng = np.random.default_rng(12)
    centers, x, y = clustered(3, 4, seed=13)
    faces = np.concatenate([faces_of(centers[i], 1, rng, spread=0.1) for i in (0, 1, 2)])
    results = _fit(x, y).predict(faces, groups=["img"] * 3)
    assert [r.persona_id for r in results] == [P[0], P[1], P[2]]


def test_probabilities_fall_as_faces_move_away():
    rng = np.random.default_rng(14)
    centers, x, y = clustered(3, 5, seed=15)
    model = _fit(x, y)
    near, far = faces_of(centers[0], 1, rng, spread=0.05), faces_of(centers[0], 1, rng, spread=0.45)
    r_near, r_far = model.predict(np.concatenate([near, far]))
    assert r_near.score > r_far.score or r_far.persona_id is None


def test_thousands_of_far_personas_do_not_dilute_the_near_one():
    centers, x, y = clustered(3000, 2, seed=16)
    model = OpenSetClassifier(index_min_prototypes=10**9).fit(x, [uuid.UUID(int=int(i) + 1) for i in y])
    faces = np.concatenate([faces_of(centers[i], 1, np.random.default_rng(17 + i)) for i in range(20)])
    results = model.predict(faces)
    assert [r.persona_id for r in results] == [uuid.UUID(int=i + 1) for i in range(20)]
    assert all(r.score >= 0.5 for r in results)


def test_the_exact_scan_is_the_same_however_it_is_tiled(monkeypatch):
    from common.classifier import model as model_module

    _, x, y = clustered(40, 25, seed=18)
    model = _fit(x, y % 40)
    queries = model.prototypes[:300] + 0.01
    drop = np.arange(300)
    whole = model.persona_distances(normalize(queries), drop_prototype=drop)
    monkeypatch.setattr(model_module, "_CHUNK_CELLS", 2_000)  # 256 rows x one persona per matmul
    tiled = model.persona_distances(normalize(queries), drop_prototype=drop)
    assert np.allclose(whole, tiled, atol=1e-5)
    sims = normalize(queries) @ model.prototypes.T
    sims[np.arange(300), drop] = -np.inf
    naive = np.maximum.reduceat(sims, model.starts, axis=1)
    assert np.allclose(tiled, model._to_distance(naive), atol=1e-5)


def _dense_softmax(model: OpenSetClassifier, dist: np.ndarray, ok: np.ndarray, t: float) -> np.ndarray:
    """The definition: a softmax over each row's ``softmax_personas`` nearest allowed personas and unknown."""
    out = np.zeros((len(dist), dist.shape[1] + 1))
    for i in range(len(dist)):
        allowed = [c for c in np.argsort(dist[i], kind="stable") if ok[i, c]]
        kth = dist[i, allowed[model.softmax_personas - 1]] if len(allowed) >= model.softmax_personas else np.inf
        kept = [c for c in allowed if dist[i, c] <= kth]
        logits = np.array([-dist[i, c] / t for c in kept] + [-model.unknown_distance / t])
        e = np.exp(logits - logits.max())
        out[i, kept], out[i, -1] = e[:-1] / e.sum(), e[-1] / e.sum()
    return out


def test_probabilities_are_the_softmax_over_the_nearest_allowed_personas_and_unknown():
    rng = np.random.default_rng(3)
    model = OpenSetClassifier(unknown_distance=0.6, min_probability=0.35, softmax_personas=5)
    dist = rng.uniform(0.1, 1.2, (40, 300)).astype(np.float32)
    dist[0] = np.maximum(dist[0], 0.5)
    dist[0, :8] = 0.3  # ties at the fifth-nearest: all kept
    ok = rng.random((40, 300)) > 0.2
    ok[0, :8] = True
    ok[1] = False  # nothing allowed: unknown only
    ok[2] = False
    ok[2, [4, 9]] = True  # fewer allowed personas than softmax_personas
    prob = model.probabilities(dist, ok, 0.1)
    assert np.allclose(prob, _dense_softmax(model, dist, ok, 0.1), atol=1e-6)
    assert np.count_nonzero(prob[0, :-1]) == 8 and prob[1, -1] == 1.0 and np.count_nonzero(prob[2, :-1]) == 2
