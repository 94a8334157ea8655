"""POST /predict: an image in, its faces out (box, persona, score, model version). Nothing is stored."""

from __future__ import annotations

import numpy as np
from flask import jsonify, request

from common.db import get_database
from common.settings import get_settings
from visualization_web import queries
from visualization_web.api import bp
from visualization_web.auth import require
from visualization_web.errors import ApiError


def _image_bytes() -> tuple[str, bytes]:
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("image")
        if upload is None:
            raise ApiError(422, "send the image as the multipart field 'image'")
        return upload.filename or "upload", upload.read()
    data = request.get_data(cache=False)
    if not data:
        raise ApiError(422, "send an image (multipart field 'image' or the raw body)")
    return "upload", data


@bp.post("/predict")
@require("viewer")
def predict():
    name, data = _image_bytes()
    settings = get_settings()
    if len(data) > settings.max_image_bytes:
        raise ApiError(413, f"images larger than {settings.max_image_bytes} bytes are refused")
    try:
        from common.face_models import detect_and_embed
        from input_worker.validation import InvalidImage, load_image
    except ImportError as exc:
        raise ApiError(503, "face detection is not installed yet") from exc
    try:
        load_image(data, name, settings)
    except InvalidImage as exc:
        raise ApiError(422, f"not a usable image: {exc}") from exc
    found = detect_and_embed(data)
    db = get_database()
    results: list = []
    version = None
    try:
        from common.classifier import load_active
    except ImportError:
        load_active = None
    classifier = load_active(db) if load_active else None
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
        out.append({
            "box": {"left": left, "top": top, "width": width, "height": height},
            "detection_score": float(face.score) if face.score is not None else None,
            "persona_id": str(persona_id) if persona_id else None,
            "persona": names.get(persona_id) if persona_id else None,
            "score": float(result.score) if result is not None else None,
            "distance": float(result.distance) if result is not None and result.distance is not None else None,
        })  # fmt: skip
    return jsonify({"model_version": version, "faces": out})
