"""The classifier on real dlib embeddings of images that dependencies ship (no images in the repo)."""

import uuid

import dlib
import face_recognition_models as frm
import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from common.classifier.model import OpenSetClassifier

GRACE, EILEEN = uuid.UUID(int=1), uuid.UUID(int=2)


@pytest.fixture(scope="module")
def embed():
    detector = dlib.get_frontal_face_detector()
    shapes = dlib.shape_predictor(frm.pose_predictor_model_location())
    encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def _embed(rgb: np.ndarray) -> np.ndarray:
        rgb = np.ascontiguousarray(rgb)
        boxes, scores, _ = detector.run(rgb, 1, 0.0)
        best = boxes[int(np.argmax(scores))]  # the astronaut's badge is a (weaker) face too
        return np.array(encoder.compute_face_descriptor(rgb, shapes(rgb, best)), dtype=np.float32)

    return _embed


def test_real_faces_are_recognised_across_variants_and_strangers_are_unknown(embed):
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        grace = np.asarray(Image.open(fh).convert("RGB"))
    astronaut = skdata.astronaut()
    grace_emb = embed(grace)
    grace_mirror = embed(grace[:, ::-1])
    grace_small = embed(np.asarray(Image.fromarray(grace).resize((grace.shape[1] * 2 // 3, grace.shape[0] * 2 // 3))))
    astro_emb = embed(astronaut)

    only_grace = OpenSetClassifier().fit(grace_emb[None, :], [GRACE])
    results = only_grace.predict(np.stack([grace_mirror, grace_small, astro_emb]))
    assert [r.persona_id for r in results] == [GRACE, GRACE, None]
    assert results[0].distance < 0.6 < results[2].distance  # dlib's scale is kept

    both = OpenSetClassifier().fit(np.stack([grace_emb, astro_emb]), [GRACE, EILEEN])
    assert [r.persona_id for r in both.predict(np.stack([grace_mirror, embed(astronaut[:, ::-1])]))] == [GRACE, EILEEN]
