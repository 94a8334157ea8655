"""The response models: a field a model does not name is an error (so a new response field is one line in
its model, and a forgotten line fails in the tests, not silently); stored figures keep their own shape."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from visualization_web.api.schemas.ingest import IngestStarted
from visualization_web.api.schemas.model_versions import ModelMetrics


def test_a_response_with_a_field_its_model_does_not_name_is_refused():
    with pytest.raises(ValidationError, match="extra_field"):
        IngestStarted.model_validate({"job_id": "j", "progress_url": "/api/v1/ingest/j", "extra_field": 1})


def test_stored_metrics_keep_absent_fields_absent_and_unknown_ones_as_they_are():
    stored = {"macro_f1": 0.5, "per_persona_stored": "model_persona_metrics", "confusion": {"labels": ["a"],
              "matrix": [[1]]}}  # fmt: skip
    assert ModelMetrics.model_validate(stored).model_dump(mode="json") == stored
    with pytest.raises(ValidationError, match="macro_f1"):
        ModelMetrics.model_validate({"macro_f1": "high"})  # a known field is typed
