"""Bodies too large for one NATS message: parked in the object store, taken once."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NatsClient

from hyperstrate_kit.payloads import PayloadMissing, PayloadStore
from hyperstrate_kit.testing import unique_name


async def test_a_parked_body_is_taken_once_and_intact(nats_client: NatsClient) -> None:
    store = PayloadStore(nats_client, unique_name("payloads"))
    body = bytes(range(256)) * 12_000  # ~3 MiB, several object-store chunks
    assert not store.fits_in_message(len(body))

    name = await store.park(body)
    assert await store.take(name) == body
    with pytest.raises(PayloadMissing):
        await store.take(name)  # deleted once read: nothing lingers in the bucket


async def test_large_stream_frames_split_into_message_sized_pieces(
    nats_client: NatsClient,
) -> None:
    store = PayloadStore(nats_client, unique_name("payloads"))
    small = b"data: {}\n\n"
    assert store.split(small) == [small]
    frame = b"y" * (2 * nats_client.max_payload + 5)
    pieces = store.split(frame)
    assert b"".join(pieces) == frame
    assert all(store.fits_in_message(len(piece)) for piece in pieces)
