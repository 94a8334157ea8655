"""POST /predict: an image in, its faces out (box, persona, score, model version). Nothing is stored.

The body is bounded before it is read: a declared ``Content-Length`` over one image
(``PP_MAX_IMAGE_BYTES`` plus multipart overhead) is refused with 413 at once, and the body is read with a
cap, so a chunked body cannot make the web app buffer more either. The image goes through the one
untrusted-image decoder (:mod:`common.images`), with its pixel, frame and memory limits.
"""

from __future__ import annotations

import numpy as np
from flask import request

from common.classifier import load_active
from common.db import get_database
from common.face_models import detect_and_embed
from common.images import InvalidImage
from common.infra.settings import Settings, get_settings
from visualization_web import queries
from visualization_web.api.blueprint import bp
from visualization_web.api.contract import operation
from visualization_web.api.schemas.predict import PredictedFace, Prediction, PredictUpload
from visualization_web.auth import require
from visualization_web.errors import ApiError

MULTIPART_OVERHEAD = 64 * 1024  # part headers and boundaries around the one image


def _too_large(settings: Settings) -> ApiError:
    return ApiError(413, f"images larger than {settings.max_image_bytes} bytes are refused")


def _image_bytes(settings: Settings) -> tuple[str, bytes]:
    """(name, bytes) of the image sent, read with a cap: never more than one image's worth is buffered."""
    limit = settings.max_image_bytes
    body_limit = limit + MULTIPART_OVERHEAD
    if request.content_length is not None and request.content_length > body_limit:
        raise _too_large(settings)
    if request.max_content_length is None or request.max_content_length > body_limit:
        request.max_content_length = body_limit  # werkzeug stops a longer (chunked) body with 413
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("image")
        if upload is None:
            raise ApiError(422, "send the image as the multipart field 'image'")
        name, data = upload.filename or "upload", upload.stream.read(limit + 1)
    else:
        name, data = "upload", request.stream.read(limit + 1)
    if len(data) > limit:
        raise _too_large(settings)
    if not data:
        raise ApiError(422, "send an image (multipart field 'image' or the raw body)")
    return name, data


@bp.post("/predict")
@require("viewer")
@operation(Prediction, operation_id="predict", tag="predict", form=PredictUpload)
def predict():
    """The faces in an image with persona, score and model version (nothing is stored).

    Send the image as the multipart field 'image' (or as the raw body)."""
    settings = get_settings()
    name, data = _image_bytes(settings)
    try:
        found = detect_and_embed(data, name, settings)
    except InvalidImage as exc:
        raise ApiError(422, f"not a usable image: {exc.reason}") from exc
    db = get_database()
    results: list = []
    version = None
    classifier = load_active(db)
    if classifier is not None and found:
        version = classifier.version
        vectors = np.vstack([np.asarray(f.embedding, dtype=np.float64) for f in found])
        results = classifier.predict(vectors, groups=["upload"] * len(found))
    names = queries.persona_names(db)
    out = []
    for index, face in enumerate(found):
        left, top, width, height = (int(v) for v in face.box)
        result = results[index] if index < len(results) else None
        persona_id = getattr(result, "persona_id", None)
        out.append(PredictedFace(
            box={"left": left, "top": top, "width": width, "height": height},
            detection_score=float(face.score) if face.score is not None else None,
            persona_id=persona_id or None,
            persona=names.get(persona_id) if persona_id else None,
            score=float(result.score) if result is not None else None,
            distance=float(result.distance) if result is not None and result.distance is not None else None,
        ))  # fmt: skip
    return Prediction(model_version=version, faces=out)
