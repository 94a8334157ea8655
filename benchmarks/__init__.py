"""Benchmarks (`make bench`): not tests. Each module runs alone (`python -m benchmarks.NAME`) in its own
throw-away keyspace, Redis database and blob folder; `benchmarks.run` runs them all in one go and
writes docs/benchmarks.md."""
