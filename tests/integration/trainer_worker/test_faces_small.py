"""The faces-small photos (read in place): confirm train/, then every test/ and extra/ face gets its expected persona.

Embeddings are computed here with dlib directly, so this test does not depend on the input worker.
"""

import json
from pathlib import Path

import dlib
import face_recognition_models as frm
import numpy as np
from PIL import Image

from common.classifier import registry
from common.repositories import predictions
from trainer_worker.training import run_training

from .conftest import add_face, confirm, make_persona, run_full_pass

DATASET = Path("/work/shared/datasets/faces-small")
MAX_SIDE = 1024


def _embeddings(path: Path) -> list[np.ndarray]:
    detector = dlib.get_frontal_face_detector()
    shapes = dlib.shape_predictor(frm.pose_predictor_model_location())
    encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    image = Image.open(path).convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    rgb = np.asarray(image)
    return [np.array(encoder.compute_face_descriptor(rgb, shapes(rgb, box)), np.float32) for box in detector(rgb, 1)]


def test_faces_small_train_confirmed_then_test_and_extra_faces_are_recognised(clean_tables, fresh_retrain_state):
    db = clean_tables
    expected = {k: v for k, v in json.loads((DATASET / "expected.json").read_text()).items() if k != "about"}
    names = {}
    for person_dir in sorted((DATASET / "train").iterdir()):
        persona = make_persona(db, person_dir.name)
        names[persona.persona_id] = person_dir.name
        for photo in sorted(person_dir.iterdir()):
            (embedding,) = _embeddings(photo)
            confirm(db, [add_face(db, embedding, f"train/{person_dir.name}/{photo.name}")], persona.persona_id)
    faces_by_image = {}
    for relative in expected:
        faces_by_image[relative] = [add_face(db, e, relative, i) for i, e in enumerate(_embeddings(DATASET / relative))]
    outcome = run_training(db)
    assert outcome.status == registry.ACTIVE
    run_full_pass(db, fresh_retrain_state)
    got = {}
    for relative, face_ids in faces_by_image.items():
        found = [predictions.for_face(db, f) for f in face_ids]
        got[relative] = sorted(names.get(p.persona_id, "unknown") for p in found)
    assert got == {k: sorted(v) for k, v in expected.items()}
