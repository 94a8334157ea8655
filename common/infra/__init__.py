"""How the processes run and talk: settings, the Celery app and its queues, the typed messages between
processes, the Redis client, task retries, broker quirks, and the local Cassandra and Redis for `make run`.

The bottom layer of ``common``: it imports nothing else of the project.
"""
