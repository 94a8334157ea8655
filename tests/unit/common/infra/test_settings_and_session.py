import ssl

import pytest
from cassandra import ConsistencyLevel
from pydantic import ValidationError

from common.db.session import build_cluster
from common.infra.settings import Settings


def test_cosmos_settings_give_tls_with_verification_auth_and_protocol_v4():
    s = Settings(
        cassandra_flavor="cosmos",
        cassandra_hosts="127.0.0.1",
        cassandra_port=10350,
        cassandra_username="acct",
        cassandra_password="secret-key",
    )
    cluster = build_cluster(s)
    assert cluster.port == 10350
    assert cluster.ssl_context.verify_mode == ssl.CERT_REQUIRED and cluster.ssl_context.check_hostname
    assert cluster.protocol_version == 4
    assert cluster.auth_provider.username == "acct"
    profile = cluster.profile_manager.default
    assert profile.consistency_level == ConsistencyLevel.LOCAL_ONE
    assert any(opt[2] == 1 for opt in cluster.sockopts)  # keep-alive on


def test_apache_defaults_are_plain_local_on_protocol_v4_like_cosmos():
    s = Settings()
    assert s.use_tls is False
    cluster = build_cluster(s)
    assert cluster.ssl_context is None
    assert cluster.protocol_version == 4  # pinned: no probing down from the driver's newest


def test_the_protocol_can_be_chosen():
    assert build_cluster(Settings(cassandra_protocol_version=5)).protocol_version == 5
    assert build_cluster(Settings(cassandra_protocol_version=3)).protocol_version == 3
    with pytest.raises(ValidationError):
        Settings(cassandra_protocol_version=9)


def test_the_keyspace_anti_pattern_warning_is_not_logged_but_other_server_warnings_are(caplog):
    import logging

    build_cluster(Settings())
    logger = logging.getLogger("cassandra.protocol")
    with caplog.at_level(logging.WARNING, logger="cassandra.protocol"):
        logger.warning("Server warning: `USE <keyspace>` with prepared statements is considered to be an anti-pattern")
        logger.warning("Server warning: Aggregation query used without partition key")
    assert [r.getMessage() for r in caplog.records] == ["Server warning: Aggregation query used without partition key"]


def test_unknown_consistency_is_refused():
    with pytest.raises(ValidationError):
        Settings(cassandra_consistency="MOSTLY")


def test_secrets_do_not_leak_in_repr():
    s = Settings(cassandra_password="hunter2", azure_face_key="k3y")
    assert "hunter2" not in repr(s) and "k3y" not in repr(s)
