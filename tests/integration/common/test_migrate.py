from common.db.migrate import discover, migrate
from tests.conftest import TEST_KEYSPACE


def test_migrate_twice_changes_nothing_the_second_time(db, settings):
    tables_before = {
        r.table_name
        for r in db.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", (TEST_KEYSPACE,))
    }
    assert migrate(db.session, TEST_KEYSPACE, settings.cassandra_replication) == []
    tables_after = {
        r.table_name
        for r in db.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", (TEST_KEYSPACE,))
    }
    assert tables_before == tables_after
    recorded = {r.version for r in db.execute("SELECT version FROM schema_migrations")}
    assert recorded == {m.version for m in discover()}
    assert {"images", "faces", "personas", "events", "ingest_jobs"} <= tables_after
