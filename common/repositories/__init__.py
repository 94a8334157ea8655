"""Query-first access to each table group; docs/data-model.md lists the queries.

Every function takes the :class:`common.db.Database` first, so tests call them
with their own keyspace and services with ``get_database()``.
"""
