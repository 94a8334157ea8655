"""Predict against many prototypes: the indexed path vs an exact scan of every prototype, on one model.

    python -m benchmarks.predict_scale --prototypes 1000000 --personas 100000 --queries 20000

Synthetic clustered embeddings (common/classifier/synthetic.py): ``personas`` people with
``prototypes / personas`` confirmed faces each, a rejected look-alike for 2 % of them, and queries that
are 80 % new faces of known people and 20 % faces of strangers, two faces per image (the same-image
constraint is on). Prints, in one run: fit time (of which building the index), artifact size, exact
faces/s (on ``--exact-queries`` of the queries), indexed faces/s, the share of predictions identical
(persona or unknown) to the exact ones, the softmax mass the indexed path leaves out (non-candidate
personas), and peak RSS. No database: the model is built and used in memory.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import time
import uuid
from pathlib import Path

import faiss
import joblib
import numpy as np
from threadpoolctl import threadpool_limits

from common.classifier.artifacts import dump_model
from common.classifier.model import OpenSetClassifier, normalize
from common.classifier.prototype_index import PrototypeIndex
from common.classifier.synthetic import clustered, faces_of, person_centers

_EXACT_BATCH = 250  # rows per exact batch: its (rows x personas) matrices stay a few hundred MB at 100k personas


def make_data(prototypes: int, personas: int, queries: int, seed: int = 1) -> dict:
    per = max(1, prototypes // personas)
    centers, x, y = clustered(personas, per, seed=seed)
    rng = np.random.default_rng(seed + 1)
    looked_alike = rng.choice(personas, max(1, personas // 50), replace=False)
    rejected = np.concatenate([faces_of(centers[p], 1, rng, spread=0.3) for p in looked_alike])
    known = int(queries * 0.8)
    who = rng.integers(0, personas, known)
    strangers = person_centers(max(1, queries - known), rng)
    q = np.concatenate([faces_of(centers[p], 1, rng) for p in who] + [faces_of(c, 1, rng) for c in strangers])
    q = q[rng.permutation(len(q))][:queries]
    return {"x": x, "y": y, "rejected": rejected, "rejected_for": looked_alike, "queries": q}


def _ids(labels: np.ndarray) -> list[uuid.UUID]:
    return [uuid.UUID(int=int(i) + 1) for i in labels]


def _label(result) -> str:
    return str(result.persona_id) if result.persona_id else "unknown"


def run(prototypes: int, personas: int, queries: int, exact_queries: int, nprobe: int = 0, top_k: int = 0) -> dict:
    t0 = time.perf_counter()
    data = make_data(prototypes, personas, queries)
    generate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = OpenSetClassifier().fit(data["x"], _ids(data["y"]), data["rejected"], _ids(data["rejected_for"]))
    fit_s = time.perf_counter() - t0
    indexed = model.uses_index
    if indexed and nprobe:
        model.index.nprobe = nprobe  # read when the first search lays the index out
    if top_k:
        model.index_top_k = top_k
    t0 = time.perf_counter()
    PrototypeIndex.build(model.prototypes) if indexed else None  # the index alone (fit built one already)
    index_build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    artifact = dump_model(model)
    dump_s = time.perf_counter() - t0
    index_bytes = len(_dumped(model.index)) if indexed else 0

    q = data["queries"]
    groups = [f"image-{i // 2}" for i in range(len(q))]
    t0 = time.perf_counter()
    model.predict(q[:2])  # the first search lays the FAISS lists out from the prototypes
    first_search_s = time.perf_counter() - t0

    wall0, cpu0 = time.perf_counter(), time.process_time()
    fast = model.predict(q, groups)
    fast_wall, fast_cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    sub = min(exact_queries, len(q)) // 2 * 2 or min(exact_queries, len(q))
    exact, leftover = [], []
    exact_wall, exact_cpu = 0.0, 0.0
    saved = model.index_min_prototypes
    for lo in range(0, sub, _EXACT_BATCH):
        batch, batch_groups = q[lo : lo + _EXACT_BATCH], groups[lo : lo + _EXACT_BATCH]
        model.index_min_prototypes = len(model.prototypes) + 1  # exact scan
        wall0, cpu0 = time.perf_counter(), time.process_time()
        exact += model.predict(batch, batch_groups)
        exact_wall += time.perf_counter() - wall0
        exact_cpu += time.process_time() - cpu0
        model.index_min_prototypes = saved
        if indexed:
            leftover.append(_left_out_mass(model, batch))
    agree = float(np.mean([_label(a) == _label(b) for a, b in zip(fast[:sub], exact, strict=True)]))
    same = [(a.score, b.score) for a, b in zip(fast[:sub], exact, strict=True) if _label(a) == _label(b)]
    mass = np.concatenate(leftover) if leftover else np.zeros(1)
    return {
        "prototypes": len(model.prototypes),
        "personas": model.n_personas,
        "rejected": len(model.rejected),
        "queries": len(q),
        "exact_queries": sub,
        "indexed": indexed,
        "index": {
            "kind": "faiss IVF-flat, inner product",
            "nlist": model.index.nlist,
            "nprobe": model.index.nprobe,
            "top_k": model.index_top_k,
        }
        if indexed
        else None,
        "threads": {"faiss": faiss.omp_get_max_threads()},
        "generate_s": round(generate_s, 1),
        "fit_s": round(fit_s, 1),
        "index_build_s": round(index_build_s, 1),
        "artifact_mb": round(len(artifact) / 1e6, 1),
        "index_in_artifact_mb": round(index_bytes / 1e6, 2),
        "dump_s": round(dump_s, 1),
        "first_search_s": round(first_search_s, 2),
        "indexed_faces_per_s": round(len(q) / fast_wall),
        "indexed_faces_per_cpu_s": round(len(q) / max(fast_cpu, 1e-9)),
        "exact_faces_per_s": round(sub / exact_wall) if sub else None,
        "exact_faces_per_cpu_s": round(sub / max(exact_cpu, 1e-9)) if sub else None,
        "agreement_pct": round(100 * agree, 3),
        "known_share_pct": round(100 * float(np.mean([r.persona_id is not None for r in exact])), 1),
        "max_score_difference": round(max((abs(a - b) for a, b in same), default=0.0), 6),
        "left_out_mass_max": float(mass.max()),
        "left_out_mass_mean": float(mass.mean()),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _dumped(value: object) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(value, buffer, compress=3)  # as dump_model does
    return buffer.getvalue()


def _left_out_mass(model: OpenSetClassifier, batch: np.ndarray) -> np.ndarray:
    """Per row, the exact softmax probability of the personas that are not candidates (the indexed path
    gives them 0)."""
    xn = normalize(batch)
    dist = model.persona_distances(xn)
    ok = model.allowed(dist, model.rejection_distances(xn))
    prob = model.probabilities(dist, ok)[:, :-1]
    candidates, _, _ = model.candidate_distances(xn)
    rows = np.repeat(np.arange(len(xn)), candidates.shape[1])
    cols = candidates.ravel()
    inside = np.zeros(len(xn))
    np.add.at(inside, rows[cols >= 0], prob[rows[cols >= 0], cols[cols >= 0]])
    return np.maximum(prob.sum(axis=1) - inside, 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prototypes", type=int, default=100_000)
    parser.add_argument("--personas", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=5_000)
    parser.add_argument("--exact-queries", type=int, default=2_000, help="queries also predicted exactly")
    parser.add_argument("--threads", type=int, default=0, help="BLAS and FAISS threads (0: all cores)")
    parser.add_argument("--nprobe", type=int, default=0, help="IVF lists searched (0: the index's default)")
    parser.add_argument("--top-k", type=int, default=0, help="prototypes found per face (0: the model's default)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads or None):
        result = run(args.prototypes, args.personas, args.queries, args.exact_queries, args.nprobe, args.top_k)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
