"""A worker whose broker connection is gone while it holds unacknowledged messages neither crashes nor
loses them: they stay recorded in Redis for the visibility-timeout sweep to redeliver."""

import uuid

import pytest
from kombu import Connection

from common.infra.broker_qos import QoS
from common.task_runtime import poison_messages

poison_messages.install()  # our Redis transport, as the worker entry points install it


@pytest.fixture
def delivered(settings, redis_client):
    """A channel holding one unacknowledged message, as a worker does while its task runs."""
    queue = f"pp-test-qos-{uuid.uuid4().hex[:8]}"
    connection = Connection(settings.redis_url)
    channel = connection.channel()
    assert type(channel).QoS is QoS
    channel.queue_declare(queue)
    channel.basic_publish(channel.prepare_message("work"), exchange="", routing_key=queue)
    message = channel.basic_get(queue, no_ack=False)
    assert message is not None and message.delivery_tag in channel.qos._delivered
    yield channel, message
    redis_client.hdel("unacked", message.delivery_tag)
    redis_client.zrem("unacked_index", message.delivery_tag)
    redis_client.delete(queue)
    connection.release()


def test_closing_a_channel_whose_connection_is_gone_keeps_its_unacked_messages(delivered, redis_client):
    channel, message = delivered
    channel.connection.client = None  # what kombu leaves when the broker connection drops mid-release

    channel.close()  # kombu's own QoS raises AttributeError here, and Celery stops the worker

    assert redis_client.hexists("unacked", message.delivery_tag)  # the sweep redelivers it
