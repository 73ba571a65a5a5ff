"""Unit tests for hyperstrate_kit.security.

No test sends network traffic: URL checks use IP literals, names that are
rejected before resolution, "localhost" (answered from /etc/hosts) or a fake
``getaddrinfo`` patched onto the running event loop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import re
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from hyperstrate_kit.security import (
    GeneratedKey,
    OutboundUrlGuard,
    SecretBox,
    SecretDecryptionError,
    UnsafeUrlError,
    constant_time_equals,
    generate_key,
    generate_secret_key_text,
    hash_key,
)

# ---------------------------------------------------------------------------
# API keys
# ---------------------------------------------------------------------------


def test_generated_key_format() -> None:
    generated = generate_key()
    # 32 secret bytes are 43 characters of unpadded URL-safe base64.
    assert re.fullmatch(r"hs_[a-z0-9]{8}[A-Za-z0-9_-]{43}", generated.key)
    assert generated.prefix == generated.key[:11]
    assert generated.prefix.startswith("hs_")
    assert generated.hash == hash_key(generated.key)
    assert "=" not in generated.key


def test_generated_key_custom_prefix_and_lengths() -> None:
    generated = generate_key("sk-test_", prefix_length=4, secret_bytes=16)
    assert re.fullmatch(r"sk-test_[a-z0-9]{4}[A-Za-z0-9_-]{22}", generated.key)
    assert generated.prefix == generated.key[:12]


def test_generated_keys_are_unique() -> None:
    keys = [generate_key() for _ in range(500)]
    assert len({k.key for k in keys}) == 500
    assert len({k.hash for k in keys}) == 500


@pytest.mark.parametrize(
    ("prefix", "kwargs"),
    [
        ("hs ", {}),
        ("hs/", {}),
        ("hs_", {"prefix_length": 0}),
        ("hs_", {"secret_bytes": 15}),
    ],
)
def test_generate_key_rejects_bad_arguments(prefix: str, kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        generate_key(prefix, **kwargs)


def test_generated_key_is_frozen() -> None:
    generated = generate_key()
    with pytest.raises(AttributeError):
        generated.key = "other"  # type: ignore[misc]


def test_generated_key_repr_hides_plaintext() -> None:
    generated = generate_key()
    secret_part = generated.key[len(generated.prefix) :]
    for text in (repr(generated), str(generated), f"{generated}", f"{generated!r}"):
        assert generated.key not in text
        assert secret_part not in text
        assert generated.prefix in text
        assert generated.hash in text


def test_hash_key_is_stable_hex_sha256() -> None:
    assert hash_key("abc") == hashlib.sha256(b"abc").hexdigest()
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    key = generate_key().key
    assert hash_key(key) == hash_key(key)
    assert re.fullmatch(r"[0-9a-f]{64}", hash_key(key))
    assert hash_key(key) != hash_key(key + "x")


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "abcd")
    assert constant_time_equals("", "")
    # Non-ASCII input must not raise (hmac.compare_digest rejects non-ASCII str).
    assert constant_time_equals("clé", "clé")
    assert not constant_time_equals("clé", "cle")


def test_generated_key_type() -> None:
    assert isinstance(generate_key(), GeneratedKey)


# ---------------------------------------------------------------------------
# SecretBox
# ---------------------------------------------------------------------------


def _box() -> tuple[SecretBox, str]:
    text = generate_secret_key_text()
    return SecretBox.from_key_text(text), text


@pytest.mark.parametrize("plaintext", ["sk-provider-secret", "", "ünïcødé ✓ 🔑", "x" * 10_000])
def test_secretbox_round_trip(plaintext: str) -> None:
    box, _ = _box()
    token = box.encrypt(plaintext)
    assert token.startswith("v1.")
    assert box.decrypt(token) == plaintext
    if plaintext:
        assert plaintext not in token


def test_secretbox_uses_fresh_nonce_per_call() -> None:
    box, _ = _box()
    tokens = {box.encrypt("same") for _ in range(100)}
    assert len(tokens) == 100
    nonces = {base64.urlsafe_b64decode(t.split(".")[2] + "==")[:12] for t in tokens}
    assert len(nonces) == 100


def test_secretbox_token_format() -> None:
    box, _ = _box()
    version, key_id, payload = box.encrypt("hello").split(".")
    assert version == "v1"
    assert key_id == box.key_ids[0]
    assert re.fullmatch(r"[0-9a-f]{8}", key_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", payload)
    # nonce (12) + ciphertext (5) + tag (16)
    assert len(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) == 33


def test_secretbox_associated_data() -> None:
    box, _ = _box()
    token = box.encrypt("secret", associated_data=b"credential:42")
    assert box.decrypt(token, associated_data=b"credential:42") == "secret"
    with pytest.raises(SecretDecryptionError):
        box.decrypt(token, associated_data=b"credential:43")
    with pytest.raises(SecretDecryptionError):
        box.decrypt(token)


def test_secretbox_detects_tampering_anywhere_in_payload() -> None:
    box, _ = _box()
    plaintext = "top-secret-value"
    token = box.encrypt(plaintext)
    header, payload = token.rsplit(".", 1)
    for index, char in enumerate(payload):
        replacement = "A" if char != "A" else "B"
        tampered = f"{header}.{payload[:index]}{replacement}{payload[index + 1 :]}"
        with pytest.raises(SecretDecryptionError) as info:
            box.decrypt(tampered)
        assert plaintext not in str(info.value)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-1],  # truncated
        lambda t: t + "A",  # extended
        lambda t: t.replace("v1.", "v2.", 1),  # version
        lambda t: t.replace("v1.", "", 1),  # missing version
        lambda t: t + ".extra",  # extra segment
        lambda t: t.split(".")[0] + "." + t.split(".")[1] + ".",  # empty payload
        lambda t: t.split(".")[0] + "." + t.split(".")[1] + ".AAAA",  # too short
        lambda t: t[:-2] + "+/",  # non-URL-safe alphabet
        lambda t: t.replace(t.split(".")[1], "XYZ", 1),  # malformed key id
        lambda t: "",
        lambda t: "garbage",
    ],
)
def test_secretbox_rejects_malformed_tokens(mutate: Any) -> None:
    box, _ = _box()
    token = box.encrypt("value")
    with pytest.raises(SecretDecryptionError):
        box.decrypt(mutate(token))


def test_secretbox_wrong_key() -> None:
    box, key_text = _box()
    other, other_text = _box()
    token = box.encrypt("provider-password")
    with pytest.raises(SecretDecryptionError) as unknown:
        other.decrypt(token)
    # Same token relabelled with the other box's key id: authentication must fail.
    _, _, payload = token.split(".")
    relabelled = f"v1.{other.key_ids[0]}.{payload}"
    with pytest.raises(SecretDecryptionError) as forged:
        other.decrypt(relabelled)
    for error in (unknown.value, forged.value):
        message = str(error)
        assert "provider-password" not in message
        assert key_text not in message
        assert other_text not in message
        assert error.__cause__ is None


def test_secretbox_key_rotation() -> None:
    old_text = generate_secret_key_text()
    new_text = generate_secret_key_text()
    old_box = SecretBox.from_key_text(old_text)
    old_token = old_box.encrypt("rotated", associated_data=b"ctx")

    rotated = SecretBox.from_key_text(f"{new_text}, {old_text}")
    assert rotated.key_ids == (SecretBox.from_key_text(new_text).key_ids[0], old_box.key_ids[0])
    assert rotated.decrypt(old_token, associated_data=b"ctx") == "rotated"

    new_token = rotated.encrypt("fresh")
    assert new_token.split(".")[1] == rotated.key_ids[0]
    assert rotated.decrypt(new_token) == "fresh"
    with pytest.raises(SecretDecryptionError):
        old_box.decrypt(new_token)

    # Re-encrypting with the current key lets the old key be dropped.
    reencrypted = rotated.encrypt(rotated.decrypt(old_token, associated_data=b"ctx"))
    assert SecretBox.from_key_text(new_text).decrypt(reencrypted) == "rotated"


def test_secretbox_constructor_with_raw_keys() -> None:
    current, previous = bytes(range(32)), bytes(range(32, 64))
    box = SecretBox(keys=[current, previous])
    token = SecretBox(keys=[previous]).encrypt("legacy")
    assert box.decrypt(token) == "legacy"
    assert box.encrypt("x").split(".")[1] == box.key_ids[0]


@pytest.mark.parametrize(
    "keys",
    [[], [b"short"], [bytes(33)], [bytes(32), bytes(32)], ["a" * 32]],
)
def test_secretbox_rejects_bad_raw_keys(keys: Any) -> None:
    with pytest.raises(ValueError):
        SecretBox(keys=keys)


def test_secretbox_rejects_single_key_instead_of_list() -> None:
    with pytest.raises(TypeError):
        SecretBox(keys=bytes(32))  # type: ignore[arg-type]


def test_secretbox_accepts_standard_and_urlsafe_base64() -> None:
    raw = bytes([0xFB, 0xFF] * 16)  # encodes to '+' and '/' (or '-' and '_')
    plaintext_token = SecretBox(keys=[raw]).encrypt("same key")
    for text in (
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "  " + base64.b64encode(raw).decode() + "\n",
    ):
        assert SecretBox.from_key_text(text).decrypt(plaintext_token) == "same key"


def test_generate_secret_key_text() -> None:
    text = generate_secret_key_text()
    assert len(base64.urlsafe_b64decode(text)) == 32
    assert text != generate_secret_key_text()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("not base64 at all!", "invalid characters"),
        ("c2hvcnQta2V5LXRleHQ", "32 bytes"),
        (base64.b64encode(bytes(range(48))).decode(), "32 bytes"),
        ("QUJDR", "bad length"),  # 5 characters cannot be base64
        ("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZn!", "invalid characters"),
    ],
)
def test_bad_key_text_error_does_not_leak_text(text: str, expected: str) -> None:
    with pytest.raises(ValueError) as info:
        SecretBox.from_key_text(text)
    message = str(info.value)
    assert expected in message
    if text.strip():
        assert text.strip() not in message
    assert info.value.__cause__ is None


def test_bad_key_text_in_rotation_list_names_position_only() -> None:
    good = generate_secret_key_text()
    bad = "dGhpcy1pcy1ub3QtYS1rZXk"
    with pytest.raises(ValueError) as info:
        SecretBox.from_key_text(f"{good},{bad}")
    message = str(info.value)
    assert "key #2" in message
    assert good not in message
    assert bad not in message


def test_secretbox_repr_hides_key_material() -> None:
    text = generate_secret_key_text()
    box = SecretBox.from_key_text(text)
    raw = base64.urlsafe_b64decode(text)
    for rendered in (repr(box), str(box)):
        assert text not in rendered
        assert text.rstrip("=") not in rendered
        assert raw.hex() not in rendered
        assert box.key_ids[0] in rendered


# ---------------------------------------------------------------------------
# OutboundUrlGuard
# ---------------------------------------------------------------------------

PRIVATE_LITERAL_URLS = [
    # IPv4 loopback, private, link-local, metadata, CGNAT, unspecified, multicast, reserved
    "http://127.0.0.1/",
    "http://127.255.255.254:8080/x",
    "http://10.0.0.1/",
    "http://10.255.255.255/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.0.1/",
    "http://192.168.255.255/",
    "http://169.254.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://100.127.255.255/",
    "http://0.0.0.0/",
    "http://0.1.2.3/",
    "http://224.0.0.1/",
    "http://239.255.255.250/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://192.0.0.1/",
    "http://192.0.2.1/",
    "http://198.18.0.1/",
    "http://198.51.100.1/",
    "http://203.0.113.1/",
    # IPv6 loopback, unspecified, unique local, link-local, site-local, multicast, reserved
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]:8080/",
    "http://[::]/",
    "http://[fc00::1]/",
    "http://[fd12:3456:789a::1]/",
    "http://[fe80::1]/",
    "http://[febf::1]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    "http://[100::1]/",
    "http://[2001:db8::1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "http://[::127.0.0.1]/",  # deprecated IPv4-compatible
    "http://[64:ff9b:1::1]/",
    # IPv4-mapped, NAT64 and 6to4 forms of private IPv4
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:192.168.1.1]/",
    "http://[::ffff:100.64.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[64:ff9b::127.0.0.1]/",
    "http://[2002:7f00:1::1]/",
    "http://[2002:c0a8:101::1]/",
]

# Spellings of an address that httpx refuses (InvalidURL, UnicodeEncodeError) or hands
# to the resolver as a name: refused at creation, whatever the overrides, naming what
# to write instead.
UNDELIVERABLE_URLS = [
    # Decimal, octal, hex and shortened IPv4 forms
    ("http://2130706433/", "non-standard form: write it as 127.0.0.1"),
    ("http://0x7f000001/", "non-standard form: write it as 127.0.0.1"),
    ("http://0x7f.1/", "non-standard form: write it as 127.0.0.1"),
    ("http://0X7F.1/", "non-standard form: write it as 127.0.0.1"),
    ("http://0x7f.0.0.1/", "non-standard form: write it as 127.0.0.1"),
    ("http://0177.0.0.1/", "non-standard form: write it as 127.0.0.1"),
    ("http://017700000001/", "non-standard form: write it as 127.0.0.1"),
    ("http://127.1/", "non-standard form: write it as 127.0.0.1"),
    ("http://127.0.1/", "non-standard form: write it as 127.0.0.1"),
    ("http://0/", "non-standard form: write it as 0.0.0.0"),
    ("http://0x0/", "non-standard form: write it as 0.0.0.0"),
    ("http://167772161/", "non-standard form: write it as 10.0.0.1"),
    ("http://2852039166/", "non-standard form: write it as 169.254.169.254"),
    ("http://0xa9.0xfe.0xa9.0xfe/", "non-standard form: write it as 169.254.169.254"),
    ("http://0251.0376.0251.0376/", "non-standard form: write it as 169.254.169.254"),
    ("http://1572395042/", "non-standard form: write it as 93.184.216.34"),  # public
    ("http://010.8.8.8/", "non-standard form: write it as 8.8.8.8"),
    # Trailing dots: httpx sends "name." as Host and TLS name
    ("http://127.0.0.1./", "host name must not end with a dot"),
    ("http://hooks.example.com./", "host name must not end with a dot"),
    ("HTTPS://Hooks.Example.COM./", "host name must not end with a dot"),
    # IDNA: fullwidth digits and letters, invisible and compatibility characters
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "host name is not valid"),
    ("http://\uff45xample.com/", "host name is not valid"),  # fullwidth e
    ("http://exam\u00adple.com/", "host name is not valid"),  # soft hyphen
    ("http://a\u200b.example.com/", "host name is not valid"),  # zero-width space
    ("http://\u2168.example.com/", "host name is not valid"),  # roman numeral nine
    ("http://\U0001f600.example.com/", "host name is not valid"),
    ("http://xn--.example.com/", "host name is not valid"),
    ("http://xn--zz.example.com/", "host name is not valid"),  # A-label that does not decode
    # Names httpx could encode: the user is told the ASCII form (the Host header is ASCII)
    ("http://127\u30020\u30020\u30021/", "write it as 127.0.0.1"),  # ideographic stops
    ("http://example\u3002com/", "host name must be ASCII: write it as example.com"),
    ("http://b\u00fccher.example/", "host name must be ASCII: write it as xn--bcher-kva.example"),
    # Userinfo tricks
    ("http://hooks.example.com@127.0.0.1/", "URL must not contain credentials"),
    ("http://hooks.example.com%40127.0.0.1/", "host is not a valid IP address"),
    ("http://hooks.example.com\\@127.0.0.1/", "whitespace, control characters or backslash"),
]

LOCAL_NAME_URLS = [
    "http://localhost/",
    "http://LOCALHOST:8080/",
    "http://localhost./",
    "http://api.localhost/",
    "http://localhost.localdomain/",
    "http://ip6-localhost/",
    "http://ip6-loopback/",
    "http://printer.local/",
    "http://host.localdomain/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://router.home.arpa/",
    "http://postgres:5432/",  # single-label: container or search-domain name
    "http://metadata/",
]


@pytest.mark.parametrize("url", PRIVATE_LITERAL_URLS)
def test_private_literals_rejected(url: str) -> None:
    with pytest.raises(UnsafeUrlError) as info:
        OutboundUrlGuard().check_literal(url)
    assert "non-public address" in info.value.reason


@pytest.mark.parametrize("url", PRIVATE_LITERAL_URLS)
async def test_private_literals_rejected_by_async_check(url: str) -> None:
    with pytest.raises(UnsafeUrlError):
        await OutboundUrlGuard().check(url)


@pytest.mark.parametrize("url", LOCAL_NAME_URLS)
async def test_local_names_rejected(url: str) -> None:
    guard = OutboundUrlGuard()
    with pytest.raises(UnsafeUrlError):
        guard.check_literal(url)
    with pytest.raises(UnsafeUrlError):
        await guard.resolve_checked(url)


@pytest.mark.parametrize(("url", "reason"), UNDELIVERABLE_URLS)
@pytest.mark.parametrize("allow_private", [False, True])
def test_undeliverable_urls_refused_naming_the_form_to_write(
    url: str, reason: str, allow_private: bool
) -> None:
    with pytest.raises(UnsafeUrlError) as info:
        OutboundUrlGuard(allow_private=allow_private).check_literal(url)
    assert reason in info.value.reason


ACCEPTED_BY_OVERRIDES = [
    "http://127.0.0.1:8080/hook",
    "http://[::1]:9000/",
    "http://[::ffff:10.0.0.1]/",
    "http://localhost/",
    "http://postgres:5432/",
    "https://Hooks.Example.COM:8443/x?y=1#frag",
    "http://my_service.example.org/",
    "http://xn--bcher-kva.example/",
    "http://93.184.216.34/",
]


@pytest.mark.parametrize(
    "url",
    [
        *ACCEPTED_BY_OVERRIDES,
        *PRIVATE_LITERAL_URLS,
        *LOCAL_NAME_URLS,
        *(url for url, _ in UNDELIVERABLE_URLS),
    ],
)
def test_every_accepted_url_is_one_httpx_can_send(url: str) -> None:
    guard = OutboundUrlGuard(allow_private=True)
    try:
        guard.check_literal(url)
    except UnsafeUrlError:
        return
    # As the senders do it: to the URL itself, and pinned to an address with the URL's
    # host as the Host header (where a non-ASCII host raised UnicodeEncodeError).
    request = httpx.Request("POST", url)
    parts = urlsplit(url)
    pinned = httpx.Request("POST", "http://192.0.2.1/", headers={"Host": parts.netloc})
    assert request.url.raw_host.decode("ascii") == (parts.hostname or "").lower()
    assert pinned.headers["host"] == parts.netloc


def test_accepted_by_overrides() -> None:
    guard = OutboundUrlGuard(allow_private=True)
    for url in ACCEPTED_BY_OVERRIDES:
        guard.check_literal(url)


@pytest.mark.parametrize(
    ("url", "category"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://169.254.169.254/", "link-local"),
        ("http://100.64.1.1/", "carrier-grade NAT"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.251/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://[::ffff:172.16.0.1]/", "private"),
        ("http://[fe80::1]/", "link-local"),
    ],
)
def test_rejection_reason_names_category(url: str, category: str) -> None:
    with pytest.raises(UnsafeUrlError) as info:
        OutboundUrlGuard().check_literal(url)
    assert info.value.reason == f"host is a non-public address ({category})"
    assert str(info.value) == info.value.reason


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://93.184.216.34/", ["93.184.216.34"]),
        ("https://93.184.216.34:8443/hook?x=1#frag", ["93.184.216.34"]),
        ("http://1.1.1.1/", ["1.1.1.1"]),
        ("http://172.32.0.1/", ["172.32.0.1"]),  # just outside 172.16/12
        ("http://100.128.0.1/", ["100.128.0.1"]),  # just outside 100.64/10
        ("http://[2606:2800:220:1:248:1893:25c8:1946]/", ["2606:2800:220:1:248:1893:25c8:1946"]),
        ("http://[::ffff:93.184.216.34]/", ["::ffff:93.184.216.34"]),
        ("http://[2002:5db8:d822::1]/", ["2002:5db8:d822::1"]),
    ],
)
async def test_public_literals_accepted(url: str, expected: list[str]) -> None:
    guard = OutboundUrlGuard()
    guard.check_literal(url)
    await guard.check(url)
    # Compare as addresses: str() of IPv4-mapped IPv6 differs between Python versions.
    resolved = await guard.resolve_checked(url)
    assert [ipaddress.ip_address(a) for a in resolved] == [
        ipaddress.ip_address(a) for a in expected
    ]


def test_public_names_pass_literal_check() -> None:
    guard = OutboundUrlGuard()
    for url in (
        "https://hooks.example.com/path",
        "HTTPS://Hooks.Example.COM/",
        "http://my_service.example.org:8080/",
        "http://xn--bcher-kva.example/",
        "http://xn--nxasmq6b.example/",
        "https://hooks.example.com/#@evil.example",
    ):
        guard.check_literal(url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "javascript:alert(1)",
        "data:text/plain,hi",
        "ws://example.com/",
        "//example.com/",
        "example.com",
        "",
    ],
)
def test_bad_schemes_rejected(url: str) -> None:
    with pytest.raises(UnsafeUrlError) as info:
        OutboundUrlGuard(allow_private=True).check_literal(url)
    assert info.value.reason == "URL scheme must be http or https"


@pytest.mark.parametrize(
    "url",
    [
        "http://user@example.com/",
        "http://user:pass@example.com/",
        "https://:secret@example.com/",
        "http://@example.com/",
        "http://example.com@127.0.0.1/",
        "http://93.184.216.34:80@127.0.0.1/",
    ],
)
def test_credentials_rejected(url: str) -> None:
    with pytest.raises(UnsafeUrlError) as info:
        OutboundUrlGuard(allow_private=True, allowed_hosts={"example.com"}).check_literal(url)
    assert info.value.reason == "URL must not contain credentials"
    assert "pass" not in info.value.reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http:///path", "URL has no host"),
        ("http://", "URL has no host"),
        ("http://:80/", "URL has no host"),
        ("http://example.com:99999/", "URL has an invalid port"),
        ("http://example.com:abc/", "URL has an invalid port"),
        ("http://example.com:0/", "URL has an invalid port"),
        ("http://[::1/", "URL is not valid"),
        ("http://exa mple.com/", "URL contains whitespace, control characters or backslashes"),
        (
            "http://example.com\\@127.0.0.1/",
            "URL contains whitespace, control characters or backslashes",
        ),
        ("http://example.com\t/", "URL contains whitespace, control characters or backslashes"),
        (" http://example.com/", "URL contains whitespace, control characters or backslashes"),
        ("http://[fe80::1%25eth0]/", "IPv6 zone identifiers are not allowed"),
        ("http://[::ffff:127.0.0.1%25lo]/", "IPv6 zone identifiers are not allowed"),
        ("http://1.2.3.256/", "host is not a valid IP address"),
        ("http://example.123/", "host is not a valid IP address"),
        ("http://0x7f.0x100.0.1/", "host is not a valid IP address"),
        ("http://08.0.0.1/", "host is not a valid IP address"),
        ("http://1.2.3.4.5/", "host is not a valid IP address"),
        ("http://127..1/", "host is not a valid IP address"),
        ("http://-bad-.example.com/", "host name is not valid"),
        ("http://exa%6dple.com/", "host name is not valid"),
        ("http://a..example.com/", "host name is not valid"),
    ],
)
def test_malformed_urls_rejected(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrlError) as info:
        OutboundUrlGuard(allow_private=True).check_literal(url)
    assert info.value.reason == reason


def test_unsafe_url_error_is_value_error() -> None:
    error = UnsafeUrlError("host does not resolve")
    assert isinstance(error, ValueError)
    assert error.reason == "host does not resolve"
    assert str(error) == "host does not resolve"


async def test_allow_private_overrides_address_and_name_checks() -> None:
    guard = OutboundUrlGuard(allow_private=True)
    for url in (
        "http://127.0.0.1:8080/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/",
        "http://postgres:5432/",
        "http://localhost/",
    ):
        guard.check_literal(url)
    assert [
        ipaddress.ip_address(a) for a in await guard.resolve_checked("http://[::ffff:10.0.0.1]/")
    ] == [ipaddress.ip_address("::ffff:10.0.0.1")]
    # "localhost" is answered from /etc/hosts: no network traffic.
    addresses = await guard.resolve_checked("http://localhost:8080/")
    assert addresses
    assert all(a in ("127.0.0.1", "::1") for a in addresses)


async def test_allowed_hosts_override_for_listed_hosts_only() -> None:
    guard = OutboundUrlGuard(allowed_hosts=frozenset({"127.0.0.1", "[::1]", "LocalHost."}))
    guard.check_literal("http://127.0.0.1:9000/")
    guard.check_literal("http://[0::1]/")
    guard.check_literal("http://localhost/")
    with pytest.raises(UnsafeUrlError):
        guard.check_literal("http://127.0.0.2/")
    with pytest.raises(UnsafeUrlError):
        guard.check_literal("http://api.localhost/")  # no subdomain matching
    with pytest.raises(UnsafeUrlError):
        guard.check_literal("http://10.0.0.1/")
    # The DNS path: "localhost" resolves locally, and is accepted only because it is listed.
    addresses = await guard.resolve_checked("http://localhost/")
    assert addresses
    assert all(a in ("127.0.0.1", "::1") for a in addresses)
    with pytest.raises(UnsafeUrlError):
        await OutboundUrlGuard().resolve_checked("http://localhost/")


def test_overrides_never_allow_bad_schemes_or_credentials() -> None:
    guard = OutboundUrlGuard(allow_private=True, allowed_hosts={"localhost"})
    with pytest.raises(UnsafeUrlError):
        guard.check_literal("file://localhost/etc/passwd")
    with pytest.raises(UnsafeUrlError):
        guard.check_literal("http://admin:admin@localhost/")


def test_allowed_hosts_validation() -> None:
    with pytest.raises(TypeError):
        OutboundUrlGuard(allowed_hosts="example.com")
    with pytest.raises(ValueError, match="not valid"):
        OutboundUrlGuard(allowed_hosts={"bad host"})
    assert "example.com" in repr(OutboundUrlGuard(allowed_hosts=["Example.COM"]))


# --- DNS resolution path, with a fake resolver (no network traffic) ---------


def _install_resolver(
    monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]
) -> list[tuple[str, int]]:
    """Patch getaddrinfo on the running loop; unknown names fail like NXDOMAIN."""
    calls: list[tuple[str, int]] = []

    async def fake_getaddrinfo(
        host: str, port: int, *, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[tuple[Any, ...]]:
        calls.append((host, port))
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        result: list[tuple[Any, ...]] = []
        for address in answers[host]:
            if ":" in address:
                result.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                result.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return result

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake_getaddrinfo)
    return calls


async def test_dns_public_addresses_returned_for_pinning(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _install_resolver(
        monkeypatch,
        {
            "hooks.example.com": [
                "93.184.216.34",
                "2606:2800:220:1:248:1893:25c8:1946",
                "93.184.216.34",
            ]
        },
    )
    guard = OutboundUrlGuard()
    assert await guard.resolve_checked("https://hooks.example.com/cb") == [
        "93.184.216.34",
        "2606:2800:220:1:248:1893:25c8:1946",
    ]
    await guard.check("http://hooks.example.com:8080/")
    assert calls == [("hooks.example.com", 443), ("hooks.example.com", 8080)]


@pytest.mark.parametrize(
    ("answers", "category"),
    [
        (["10.0.0.5"], "private"),
        (["127.0.0.1"], "loopback"),
        (["169.254.169.254"], "link-local"),
        (["100.100.100.200"], "carrier-grade NAT"),
        (["::1"], "loopback"),
        (["fd00::1"], "private"),
        (["fe80::1%eth0"], "link-local"),
        (["::ffff:192.168.0.1"], "private"),
        (["0.0.0.0"], "unspecified"),
        # One bad address among good ones is enough: the client may pick any.
        (["93.184.216.34", "192.168.1.10"], "private"),
        (["2606:2800:220:1:248:1893:25c8:1946", "::1"], "loopback"),
    ],
)
async def test_dns_private_addresses_rejected(
    monkeypatch: pytest.MonkeyPatch, answers: list[str], category: str
) -> None:
    _install_resolver(monkeypatch, {"rebind.example.com": answers})
    with pytest.raises(UnsafeUrlError) as info:
        await OutboundUrlGuard().check("https://rebind.example.com/")
    assert info.value.reason == f"host resolves to a non-public address ({category})"


async def test_dns_private_addresses_allowed_by_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    _install_resolver(monkeypatch, {"internal.example.com": ["10.0.0.5", "fd00::1"]})
    url = "http://internal.example.com/"
    expected = ["10.0.0.5", "fd00::1"]
    assert await OutboundUrlGuard(allow_private=True).resolve_checked(url) == expected
    guard = OutboundUrlGuard(allowed_hosts={"Internal.Example.com"})
    # Compare as addresses: str() of IPv4-mapped IPv6 differs between Python versions.
    resolved = await guard.resolve_checked(url)
    assert [ipaddress.ip_address(a) for a in resolved] == [
        ipaddress.ip_address(a) for a in expected
    ]
    with pytest.raises(UnsafeUrlError):
        await OutboundUrlGuard(allowed_hosts={"other.example.com"}).check(url)


async def test_dns_failure_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    _install_resolver(monkeypatch, {"empty.example.com": []})
    guard = OutboundUrlGuard()
    for url in ("http://missing.example.com/", "http://empty.example.com/"):
        with pytest.raises(UnsafeUrlError) as info:
            await guard.check(url)
        assert info.value.reason == "host does not resolve"


async def test_dns_timeout_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    async def slow_getaddrinfo(*args: Any, **kwargs: Any) -> list[Any]:
        await asyncio.sleep(10)
        return []

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", slow_getaddrinfo)
    with pytest.raises(UnsafeUrlError) as info:
        await OutboundUrlGuard(resolve_timeout=0.01).check("http://slow.example.com/")
    assert info.value.reason == "host does not resolve"


async def test_literal_hosts_are_not_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _install_resolver(monkeypatch, {})
    guard = OutboundUrlGuard()
    assert await guard.resolve_checked("http://93.184.216.34/") == ["93.184.216.34"]
    with pytest.raises(UnsafeUrlError):
        await guard.resolve_checked("http://localhost/")
    with pytest.raises(UnsafeUrlError):
        await guard.resolve_checked("http://0x7f.1/")
    assert calls == []
