"""The migrations' statements as each database flavor gets them (common/db/migrate.py: for_flavor)."""

from common.db.migrate import COSMOS_CELL_TIMESTAMPS, discover, for_flavor
from common.infra.settings import CassandraFlavor


def _statements():
    return [s for migration in discover() for s in migration.statements()]


def test_apache_cassandra_gets_every_statement_as_written():
    assert all(for_flavor(s, CassandraFlavor.apache) == s for s in _statements())


def test_cosmos_creates_the_conditionally_written_tables_with_cell_level_timestamps():
    created = {s.split("(")[0].split()[-1]: for_flavor(s, CassandraFlavor.cosmos) for s in _statements()
               if s.startswith("CREATE TABLE")}  # fmt: skip
    assert created["images"].endswith(f") WITH {COSMOS_CELL_TIMESTAMPS}")
    assert created["persona_names"].endswith(f") WITH {COSMOS_CELL_TIMESTAMPS}")
    assert created["faces_by_image"].endswith(f") WITH {COSMOS_CELL_TIMESTAMPS}")
    # the other tables keep Cosmos DB's defaults (cell timestamps make full-row inserts slower there)
    assert COSMOS_CELL_TIMESTAMPS not in created["faces"]
    assert COSMOS_CELL_TIMESTAMPS not in created["events"]


def test_cosmos_options_join_a_table_that_already_has_options():
    statement = (
        "CREATE TABLE IF NOT EXISTS sequences (name text, at int, PRIMARY KEY (name, at)) "
        "WITH CLUSTERING ORDER BY (at DESC)"
    )
    assert for_flavor(statement, CassandraFlavor.cosmos) == f"{statement} AND {COSMOS_CELL_TIMESTAMPS}"


def test_cosmos_leaves_column_additions_alone():
    statement = "ALTER TABLE images ADD image_card_since timestamp"
    assert for_flavor(statement, CassandraFlavor.cosmos) == statement
