"""The model registry's tables on the real Cassandra: version buckets, rows from before bucketing, merged
history, per-persona rows."""

from common.repositories import models as models_repo


def _version(db, number: int, status: str = "retired") -> None:
    models_repo.insert_version(db, models_repo.ModelVersion(number, status, metrics={"macro_f1": 0.5}))


def _allocate_up_to(db, number: int) -> None:
    db.execute("INSERT INTO sequences (name, value) VALUES (?, ?)", (models_repo.SEQUENCE_NAME, number))


def test_versions_are_read_newest_first_across_buckets_and_from_rows_written_before_bucketing(clean_tables):
    db = clean_tables
    _allocate_up_to(db, 2001)
    for number in (3, 999, 1000, 2001):
        _version(db, number)
    # a row written before migration 0011: bucket 0, whatever its version
    db.execute("INSERT INTO model_versions (bucket, version, status, metrics) VALUES (0, 1500, 'retired', '{}')")
    assert [v.version for v in models_repo.list_versions(db)] == [2001, 1500, 1000, 999, 3]
    assert [v.version for v in models_repo.list_versions(db, limit=2)] == [2001, 1500]
    assert models_repo.latest_version(db).version == 2001
    assert models_repo.get_version(db, 1500).status == "retired" and models_repo.get_version(db, 1000)
    models_repo.set_status(db, 1500, "rejected", reason="updated where it is")
    assert models_repo.get_version(db, 1500).status == "rejected"
    assert [v.version for v in models_repo.list_versions(db)].count(1500) == 1  # no stray copy in bucket 1
    models_repo.set_pinned(db, 1000, True)
    assert models_repo.get_version(db, 1000).pinned and not models_repo.get_version(db, 999).pinned
    models_repo.delete_version(db, 1500)
    assert models_repo.get_version(db, 1500) is None


def test_history_is_merged_newest_first_across_buckets_and_pruned_per_version(clean_tables):
    db = clean_tables
    _allocate_up_to(db, 1200)
    models_repo.record_history(db, 5, None, "auto-promote", "trainer", "first")
    models_repo.record_history(db, 1200, 5, "auto-promote", "trainer", "second")
    models_repo.record_history(db, 5, 1200, "rollback", "alice", "back")  # an old version's bucket, newest
    assert [(h.version, h.action) for h in models_repo.history(db)] == [
        (5, "rollback"), (1200, "auto-promote"), (5, "auto-promote")]  # fmt: skip
    assert [h.action for h in models_repo.history(db, limit=1)] == ["rollback"]
    assert models_repo.delete_history_of(db, {5}) == 2
    assert [h.version for h in models_repo.history(db)] == [1200]


def test_per_persona_rows_are_written_read_and_deleted_by_version(clean_tables):
    db = clean_tables
    rows = [models_repo.PersonaMetrics(f"persona-{i:03d}", {"f1": i / 100, "confused": {"unknown": 1}}, i, 1)
            for i in range(100)]  # fmt: skip
    models_repo.insert_persona_metrics(db, 7, rows)
    models_repo.insert_persona_metrics(db, 8, rows[:3])
    assert models_repo.persona_metrics(db, 7) == rows
    assert len(models_repo.persona_metrics_sizes(db, 8)) == 3
    models_repo.delete_persona_metrics(db, 7)
    assert models_repo.persona_metrics(db, 7) == [] and len(models_repo.persona_metrics(db, 8)) == 3
