"""Whatever httpx raises while the admin pass-through forwards, the caller gets a 4xx or a
503/504 in the envelope, never a 500."""

from __future__ import annotations

import httpx
import pytest

from hyperstrate_gateway.api.admin_proxy import forwarding_failure

REQUEST = httpx.Request("GET", "http://127.0.0.1:1/routers")


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (httpx.InvalidURL("Invalid non-printable ASCII character in URL"), 400),
        (httpx.LocalProtocolError("Illegal header value", request=REQUEST), 400),
        (httpx.ReadTimeout("timed out", request=REQUEST), 504),
        (httpx.ConnectError("refused", request=REQUEST), 503),
        (httpx.RemoteProtocolError("Server disconnected", request=REQUEST), 503),
        (httpx.DecodingError("bad gzip", request=REQUEST), 503),
        (httpx.StreamConsumed(), 503),
    ],
)
def test_every_httpx_failure_is_a_client_error_or_unavailable(
    failure: Exception, status: int
) -> None:
    error = forwarding_failure("routers", failure)
    assert error.status_code == status
    assert "routers" in error.message or status == 400
    if status == 400:
        assert list(error.fields) == ["path"]
