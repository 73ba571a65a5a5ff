"""The incremental SSE parser."""

from __future__ import annotations

from hyperstrate_providers.sse import SseEvent, SseParser, encode_sse


def test_events_split_across_arbitrary_byte_boundaries() -> None:
    stream = (
        b'event: message_start\r\ndata: {"a": 1}\r\n\r\n'
        b": keep-alive comment\n\n"
        b"data: line one\ndata: line two\nid: 7\nretry: 100\n\n"
        b"data:no-space\n\n" + "data: caf\u00e9\n\n".encode()
    )
    for piece_size in (1, 2, 3, 5, 64, len(stream)):
        parser = SseParser()
        events = []
        for start in range(0, len(stream), piece_size):
            events.extend(parser.feed(stream[start : start + piece_size]))
        assert events == [
            SseEvent("message_start", '{"a": 1}'),
            SseEvent("", "line one\nline two"),
            SseEvent("", "no-space"),
            SseEvent("", "caf\u00e9"),
        ]
        assert not parser.pending


def test_an_unterminated_event_stays_pending() -> None:
    parser = SseParser()

    assert parser.feed(b"data: partial") == []
    assert parser.pending
    assert parser.feed(b"\n\n") == [SseEvent("", "partial")]


def test_encode_frames() -> None:
    assert encode_sse(b"{}") == b"data: {}\n\n"
    assert encode_sse(b"{}", "ping") == b"event: ping\ndata: {}\n\n"


def test_close_keeps_a_complete_last_event_and_drops_a_truncated_line() -> None:
    complete = SseParser()
    complete.feed(b"data: [DONE]\n")
    truncated = SseParser()
    truncated.feed(b'data: {"id": 1}\n\ndata: {"id"')

    assert complete.close() == [SseEvent("", "[DONE]")]
    assert truncated.close() == []
