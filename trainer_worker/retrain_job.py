"""The RETRAIN task's logic: coalesce bursts (request sequence numbers) and serialize (a Redis lock).

The lock has a short expiry (``PP_RETRAIN_LOCK_SECONDS``, default 60 s) that a
background thread of the training process renews every third of it while the
training runs (:class:`RenewedLock`). A trainer that dies (SIGKILL, OOM, node
lost) stops renewing, so its lock lapses within that expiry and the redelivered
RETRAIN task can train; a long training keeps its lock however long it takes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from types import TracebackType

import redis
from redis.exceptions import LockError, LockNotOwnedError, RedisError

from common.db import Database
from common.infra.settings import get_settings
from common.labeling.retrain_trigger import FORCE_KEY, LOCK_KEY, latest_request_seq
from trainer_worker.training import TrainingOutcome, run_training

log = logging.getLogger(__name__)

SUPERSEDED, BUSY, DONE = "superseded", "busy", "done"


@dataclass(frozen=True)
class RetrainResult:
    status: str  # superseded | busy | done
    outcome: TrainingOutcome | None = None


class RenewedLock:
    """A non-blocking Redis lock with a short expiry, renewed by a daemon thread while held.

    ``acquire()`` returns False when another holder has it. Renewal failures are logged and
    retried on the next tick (a Redis restart); a lost lock (it lapsed while this process was
    stalled longer than the expiry) is logged and renewal stops.
    """

    def __init__(self, client: redis.Redis, key: str, ttl_seconds: float):
        self.ttl = max(3.0, float(ttl_seconds))
        # thread_local=False: the renewing thread must see the token the acquiring thread got.
        self.lock = client.lock(key, timeout=self.ttl, blocking=False, thread_local=False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    def acquire(self) -> bool:
        if not self.lock.acquire(blocking=False):
            return False
        self._thread = threading.Thread(target=self._renew, name="retrain-lock-renewal", daemon=True)
        self._thread.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.lock.reacquire()
            except LockNotOwnedError:
                self.lost = True
                log.error("the retrain lock lapsed during the training (process stalled > %.0fs)", self.ttl)
                return
            except RedisError as exc:  # Redis restarting: try again next tick, the expiry leaves room
                log.warning("renewing the retrain lock failed (%s); retrying", exc)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.lock.release()
        except LockError:
            log.warning("the retrain lock was no longer ours at the end of the training")

    def __enter__(self) -> RenewedLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.release()


def handle_retrain(db: Database, client: redis.Redis, reason: str, seq: int) -> RetrainResult:
    """Train unless a newer request exists (its task will train) or a training is running (retry later)."""
    if latest_request_seq(client) > seq:
        return RetrainResult(SUPERSEDED)
    lock = RenewedLock(client, LOCK_KEY, get_settings().retrain_lock_seconds)
    if not lock.acquire():
        return RetrainResult(BUSY)
    with lock:
        force = bool(client.getdel(FORCE_KEY))
        outcome = run_training(db, reason=reason, force=force)
    return RetrainResult(DONE, outcome)


def training_running(client: redis.Redis) -> bool:
    return bool(client.exists(LOCK_KEY))
