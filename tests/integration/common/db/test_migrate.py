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


def test_the_cosmos_flavor_sends_the_cell_timestamp_options_to_the_database(settings, tmp_path):
    """Apache Cassandra does not know Cosmos DB's table options, so here the first table that gets them
    (``persona_names``) is refused by name: proof that ``migrate`` sends them for that flavor."""
    import shutil

    import pytest
    from cassandra.protocol import ConfigurationException, SyntaxException

    from common.db.migrate import MIGRATIONS_DIR
    from common.db.session import connect
    from common.infra.settings import CassandraFlavor
    from tests.conftest import RUN_ID

    shutil.copy(MIGRATIONS_DIR / "0001_initial.cql", tmp_path)
    keyspace = f"pp_cosmos_ddl_{RUN_ID}"
    cluster, session = connect(settings)
    try:
        with pytest.raises((ConfigurationException, SyntaxException), match="cosmosdb_cell_level_timestamp"):
            migrate(session, keyspace, settings.cassandra_replication, tmp_path, flavor=CassandraFlavor.cosmos)
        tables = {r.table_name for r in session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,))}  # fmt: skip
        assert "personas" in tables and "persona_names" not in tables  # created as written, then refused
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
        cluster.shutdown()
