"""Cassandra sessions for Apache Cassandra and Azure Cosmos DB for Apache Cassandra."""

from __future__ import annotations

import logging
import socket
import ssl

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    RoundRobinPolicy,
    TokenAwarePolicy,
)

from common.db.retry import OverloadAwareRetryPolicy
from common.db.rows import cached_named_tuple_factory
from common.infra.settings import CassandraFlavor, Settings

# Azure's load balancer drops connections idle for 4 minutes: probe well before that.
KEEPALIVE_SOCKOPTS = [
    (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
    (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60),
    (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 20),
    (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3),
]


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.use_tls:
        return None
    context = ssl.create_default_context(cafile=str(settings.cassandra_ca_file) if settings.cassandra_ca_file else None)
    if not settings.cassandra_tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def build_cluster(settings: Settings) -> Cluster:
    """A driver Cluster configured for the deployment's flavor (not yet connected)."""
    auth = None
    if settings.cassandra_username:
        password = settings.cassandra_password.get_secret_value() if settings.cassandra_password else ""
        auth = PlainTextAuthProvider(username=settings.cassandra_username, password=password)
    if settings.cassandra_local_dc:
        balancing = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=settings.cassandra_local_dc))
    elif settings.cassandra_flavor is CassandraFlavor.cosmos:
        balancing = DCAwareRoundRobinPolicy()
    else:
        balancing = TokenAwarePolicy(RoundRobinPolicy())
    profile = ExecutionProfile(
        load_balancing_policy=balancing,
        retry_policy=OverloadAwareRetryPolicy(),
        consistency_level=ConsistencyLevel.name_to_value[settings.cassandra_consistency],
        serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
        request_timeout=settings.cassandra_request_timeout,
        row_factory=cached_named_tuple_factory,
    )
    # Pinned, so the driver does not probe from its newest version down (a warning per connection). v4 for
    # every flavor: Cosmos DB speaks only v4, so local runs and tests use what production uses; and v5's
    # segment checksums are computed in Python by the driver (about 10% of the client CPU of a read).
    default_protocol = 4
    _quiet_keyspace_warning()
    return Cluster(
        contact_points=settings.contact_points,
        port=settings.cassandra_port,
        auth_provider=auth,
        ssl_context=ssl_context(settings),
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        connect_timeout=settings.cassandra_connect_timeout,
        control_connection_timeout=settings.cassandra_connect_timeout,
        reconnection_policy=ExponentialReconnectionPolicy(base_delay=0.5, max_delay=10.0),
        sockopts=KEEPALIVE_SOCKOPTS,
        idle_heartbeat_interval=30,
        protocol_version=settings.cassandra_protocol_version or default_protocol,
    )


class _KeyspaceWarningFilter(logging.Filter):
    """Cassandra 4+ warns, once per prepared statement, that a session opened on a keyspace makes table names
    ambiguous. Ours never are: one session per keyspace, and no statement names another keyspace."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`USE <keyspace>` with prepared statements" not in record.getMessage()


def _quiet_keyspace_warning() -> None:
    logger = logging.getLogger("cassandra.protocol")  # where the driver logs server warnings
    if not any(isinstance(f, _KeyspaceWarningFilter) for f in logger.filters):
        logger.addFilter(_KeyspaceWarningFilter())


def connect(settings: Settings, keyspace: str | None = None) -> tuple[Cluster, Session]:
    cluster = build_cluster(settings)
    session = cluster.connect(keyspace)
    return cluster, session
