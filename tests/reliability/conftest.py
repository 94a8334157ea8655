"""The fault-injection suite's shared pieces: input folders and the clean run every fault run is compared with."""

from __future__ import annotations

import time

import pytest

from tests.support.reliability import Pipeline, Snapshot, write_inputs


@pytest.fixture(scope="session")
def reliability_inputs(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("reliability-inputs"))


@pytest.fixture
def pipeline(db, redis_client, reliability_inputs, tmp_path):
    """A pipeline on this test's log folder; its workers are stopped at the end."""
    seed, job = reliability_inputs
    run = Pipeline(db, redis_client, tmp_path, seed, job)
    yield run
    run.stop_all()


@pytest.fixture(scope="session")
def clean_run(db, redis_client, reliability_inputs, tmp_path_factory) -> Snapshot:
    """The snapshot of one run without faults (computed once, whichever fault test runs first)."""
    seed, job = reliability_inputs
    run = Pipeline(db, redis_client, tmp_path_factory.mktemp("reliability-clean"), seed, job)
    started = time.monotonic()
    try:
        snapshot = run.run()
    finally:
        run.stop_all()
    print(f"\nclean run: {time.monotonic() - started:.1f}s {run.timings}, {snapshot.summary()}")
    return snapshot
