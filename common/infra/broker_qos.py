"""The Redis transport's unacknowledged-message bookkeeping, without its crash on a lost broker.

When the connection to Redis drops while a worker holds unacknowledged messages (``task_acks_late``: every
task in flight), Celery releases the connection and kombu's channel close tries to put those messages back
on their queues at once (``QoS.restore_unacked``). By then the channel's transport may already have let go
of its connection, and kombu raises ``AttributeError`` ("'NoneType' object has no attribute 'hostname'",
``Channel._connparams``) instead of a connection error; Celery treats that as unrecoverable and the worker
exits. (Seen here when Redis restarts mid-job: ``tests/reliability/test_faults.py``.)

:class:`QoS` catches exactly that case and leaves the messages where kombu recorded them at delivery, in the
unacked hash in Redis: the visibility-timeout sweep that every worker runs redelivers them, as after a
worker crash, and tasks are idempotent. The worker itself reconnects and carries on.
"""

from __future__ import annotations

import logging

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    def restore_unacked(self, client=None):
        if client is None and _connection_gone(self.channel):
            log.warning(
                "broker connection gone: %d unacknowledged message(s) left for the visibility timeout to redeliver",
                len(self._delivered),
            )
            self._delivered.clear()
            return None
        return super().restore_unacked(client)


def _connection_gone(channel) -> bool:
    transport = getattr(channel, "connection", None)
    return transport is None or getattr(transport, "client", None) is None
