"""Where a full reclassification pass keeps its state in Redis, and how its progress is read.

The trainer's pass (``trainer_worker.reclassify``) writes these keys; the web app reads
:func:`pass_progress` for ``/api/v1/models`` and the dashboard. A pass keeps a few bytes per shard, whatever
the corpus size:

* ``reclassify:pass:<version>`` (hash): ``pass_id``, ``planned`` (shards sent so far), ``cursor`` (the last
  token planned), ``complete`` (the fan-out planned its last shard), ``faces`` (predictions written),
  ``decisions`` (faces whose persona-or-unknown decision it changed), ``kind`` (full or audit),
  ``started_at``, ``finished_at``;
* ``reclassify:pass:<version>:shards`` (hash): the unfinished shards, index -> "start end" (their ranges);
* ``reclassify:pass:<version>:fanout``: the pass whose fan-out runs now (it expires if that process dies);
* ``reclassify:passes`` (set): the versions with pass state. A new pass deletes the others' state, which
  stops their shards. A pass is not stopped by a newer version with the same calibration (a scoped
  refresh covers what that version changed): its shards predict with whichever version is active.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import redis

PASS_KEY = "reclassify:pass:{version}"
SHARDS_KEY = "reclassify:pass:{version}:shards"
FANOUT_KEY = "reclassify:pass:{version}:fanout"
PASSES_KEY = "reclassify:passes"
PASS_TTL = 86400  # seconds a pass's state is kept after its last change


def keys(version: int) -> tuple[str, str, str]:
    """The pass, unfinished-shards and fan-out keys of ``version``."""
    return PASS_KEY.format(version=version), SHARDS_KEY.format(version=version), FANOUT_KEY.format(version=version)


@dataclass(frozen=True)
class PassProgress:
    """A full pass of one version: shards planned (final once ``planning`` is False), finished, faces written."""

    version: int
    pass_id: str
    shards_total: int
    shards_done: int
    planning: bool  # the fan-out is still cutting the token ring into shards
    faces_predicted: int
    started_at: str | None  # ISO 8601
    finished_at: str | None  # ISO 8601; None while shards are unfinished
    decisions_changed: int = 0  # faces whose decision (persona or unknown) the pass changed
    kind: str = "full"  # full (after a change scoped reasoning cannot bound) or audit (scheduled check)

    def as_dict(self) -> dict:
        return asdict(self)


def pass_progress(client: redis.Redis, version: int) -> PassProgress | None:
    """The progress of the latest full pass of ``version`` (None: none in the last day, or a newer pass of
    another version replaced it). Two small reads."""
    pass_key, shards_key, _ = keys(version)
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(pass_key)
    pipe.hlen(shards_key)
    state, unfinished = pipe.execute()
    if not state:
        return None
    text = {k.decode(): v.decode() for k, v in state.items()}
    planned = int(text.get("planned", 0))
    return PassProgress(version, text.get("pass_id", ""), planned, planned - int(unfinished),
                        text.get("complete") != "1", int(text.get("faces", 0)), text.get("started_at"),
                        text.get("finished_at"), int(text.get("decisions", 0)), text.get("kind", "full"))  # fmt: skip


def latest_pass(client: redis.Redis) -> PassProgress | None:
    """The progress of the newest full pass of any version (None: none in the last day)."""
    versions = sorted((int(v) for v in client.smembers(PASSES_KEY)), reverse=True)
    return pass_progress(client, versions[0]) if versions else None
