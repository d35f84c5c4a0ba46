"""FlagClient's server-sent-events stream, against StubFeatureServer."""

from __future__ import annotations

from relgate.sdk.poller import EventStream
from tests.integration.sdk.conftest import ClientFactory
from tests.integration.sdk.stub_server import StubFeatureServer, features, flag
from tests.support.server import wait_for


def test_the_stream_pushes_a_change_without_waiting_for_a_poll(
    streaming_stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    client = make_client(streaming_stub.url, stream=True, refresh_interval=3600)
    assert client.is_enabled("checkout") is True
    wait_for(lambda: any(r.path == "/api/client/streaming" for r in streaming_stub.requests))

    streaming_stub.set_payload(features(flag("checkout", False), flag("brand-new", True)))

    wait_for(lambda: client.is_enabled("checkout") is False, timeout=10)
    assert client.is_enabled("brand-new") is True
    assert len(streaming_stub.feature_requests()) == 1


def test_a_streamed_change_is_written_to_the_cache_file(
    streaming_stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    client = make_client(streaming_stub.url, stream=True, refresh_interval=3600)
    wait_for(lambda: any(r.path == "/api/client/streaming" for r in streaming_stub.requests))
    streaming_stub.set_payload(features(flag("checkout", False)))
    wait_for(lambda: client.is_enabled("checkout") is False, timeout=10)
    client.close()
    streaming_stub.stop()

    restarted = make_client(streaming_stub.url, start=False)

    assert restarted.is_enabled("checkout", default=True) is False


def test_a_server_without_a_stream_leaves_polling_alone(
    stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    client = make_client(stub.url, stream=True, refresh_interval=0.05)
    stream: EventStream = client._stream

    wait_for(lambda: stream.unsupported and not stream.running, timeout=10)
    stub.set_payload(features(flag("checkout", False)))

    wait_for(lambda: client.is_enabled("checkout") is False, timeout=10)


def test_closing_the_client_ends_a_blocked_stream(
    streaming_stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    client = make_client(streaming_stub.url, stream=True, refresh_interval=3600)
    stream: EventStream = client._stream
    wait_for(lambda: any(r.path == "/api/client/streaming" for r in streaming_stub.requests))

    client.close()

    assert not stream.running
