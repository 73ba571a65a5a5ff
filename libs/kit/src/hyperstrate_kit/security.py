"""Security primitives shared by every hyperstrate service.

Three independent tools live here:

* API keys: :func:`generate_key`, :func:`hash_key`, :func:`constant_time_equals`.
  Only the SHA-256 hash and the displayable prefix of a key are ever stored.
* :class:`SecretBox`: AES-256-GCM encryption of secrets at rest (provider
  credentials, webhook signing secrets) with key rotation.
* :class:`OutboundUrlGuard`: SSRF protection for URLs supplied by users
  (webhooks, callbacks, MCP servers) before the gateway connects to them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "GeneratedKey",
    "OutboundUrlGuard",
    "SecretBox",
    "SecretDecryptionError",
    "UnsafeUrlError",
    "constant_time_equals",
    "generate_key",
    "generate_secret_key_text",
    "hash_key",
]

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# ---------------------------------------------------------------------------
# API keys
# ---------------------------------------------------------------------------

# The displayable part is lowercase alphanumerics only, so it reads well in a UI
# and survives double-click selection; it carries no secrecy.
_DISPLAY_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz0123456789"
_PREFIX_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]*")
# 128 bits is the floor for a bearer secret that is looked up by hash.
_MIN_SECRET_BYTES: Final = 16


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A freshly generated API key.

    ``key`` is the full plaintext, to be shown to the user exactly once and then
    discarded; persist only ``prefix`` (to identify the key in listings and to
    narrow the lookup) and ``hash`` (to verify it). ``repr()`` omits ``key`` so
    the plaintext does not end up in logs or tracebacks.
    """

    key: str = field(repr=False)
    prefix: str
    hash: str


def generate_key(
    prefix: str = "hs_", *, prefix_length: int = 8, secret_bytes: int = 32
) -> GeneratedKey:
    """Generate a random API key of the form ``<prefix><display><secret>``.

    ``display`` is ``prefix_length`` random lowercase alphanumerics and, together
    with ``prefix``, forms the displayable :attr:`GeneratedKey.prefix` (for
    example ``hs_ab12cd34``). ``secret`` is ``secret_bytes`` random bytes encoded
    as unpadded URL-safe base64 (``A-Z a-z 0-9 - _``). All randomness comes from
    :mod:`secrets`.

    The displayable part is short, so it is not unique across many keys: look
    keys up by prefix and then compare hashes with :func:`constant_time_equals`.

    Raises ``ValueError`` if ``prefix`` contains characters outside
    ``A-Z a-z 0-9 - _``, if ``prefix_length`` is below 1 or if ``secret_bytes``
    is below 16.
    """
    if not _PREFIX_PATTERN.fullmatch(prefix):
        raise ValueError("key prefix may only contain A-Z, a-z, 0-9, '-' and '_'")
    if prefix_length < 1:
        raise ValueError("prefix_length must be at least 1")
    if secret_bytes < _MIN_SECRET_BYTES:
        raise ValueError(f"secret_bytes must be at least {_MIN_SECRET_BYTES}")
    display = prefix + "".join(secrets.choice(_DISPLAY_ALPHABET) for _ in range(prefix_length))
    # token_urlsafe is unpadded URL-safe base64, so the key needs no escaping anywhere.
    key = display + secrets.token_urlsafe(secret_bytes)
    return GeneratedKey(key=key, prefix=display, hash=hash_key(key))


def hash_key(key: str) -> str:
    """Return the lowercase hex SHA-256 of ``key`` (UTF-8 encoded).

    A plain fast hash is sufficient because generated keys carry at least 128
    bits of entropy; a slow password hash would only add latency per request.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    """Compare two strings in time independent of where they differ.

    Uses :func:`hmac.compare_digest`; the strings are UTF-8 encoded first because
    ``compare_digest`` rejects non-ASCII ``str`` arguments.
    """
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


# ---------------------------------------------------------------------------
# Secret encryption
# ---------------------------------------------------------------------------

_KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
_TOKEN_VERSION: Final = "v1"
_KEY_ID_PATTERN: Final = re.compile(r"[0-9a-f]{8}")
_B64URL_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]+")
_B64_KEY_PATTERN: Final = re.compile(r"[A-Za-z0-9+/_-]+")
# Domain separation so the key id can never equal any other hash of the key.
_KEY_ID_CONTEXT: Final = b"hyperstrate/secretbox/key-id\x00"


class SecretDecryptionError(Exception):
    """A :class:`SecretBox` token could not be decrypted.

    Raised for malformed tokens, unknown key ids, wrong keys, wrong associated
    data and any tampering. The message never contains plaintext or key material.
    It deliberately is not a ``ValueError``: it signals a server-side problem
    (corrupt data or a missing key), not invalid user input.
    """


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode_canonical(text: str) -> bytes | None:
    """Decode unpadded URL-safe base64, returning None unless the text is canonical."""
    if not _B64URL_PATTERN.fullmatch(text) or len(text) % 4 == 1:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Re-encoding rejects texts that differ only in ignored trailing bits, so
    # every character of a token is covered by tamper detection.
    return data if _b64url_encode(data) == text else None


def _key_id(key: bytes) -> str:
    return hashlib.sha256(_KEY_ID_CONTEXT + key).hexdigest()[:8]


def _decode_key_text(text: str) -> bytes:
    stripped = text.strip().rstrip("=")
    if not stripped:
        raise ValueError("secret key is empty")
    if not _B64_KEY_PATTERN.fullmatch(stripped):
        raise ValueError("secret key is not base64 text (invalid characters)")
    # Accept both the standard and the URL-safe alphabet, padded or not.
    normalized = stripped.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)
    except (binascii.Error, ValueError):
        # "from None": the original error adds nothing and must not invite logging the input.
        raise ValueError("secret key is not valid base64 (bad length)") from None
    if len(raw) != _KEY_BYTES:
        raise ValueError(f"secret key must decode to {_KEY_BYTES} bytes, got {len(raw)} bytes")
    return raw


def generate_secret_key_text() -> str:
    """Return a new random 32-byte key as URL-safe base64 text.

    For operators: put the result in configuration and load it with
    :meth:`SecretBox.from_key_text`.
    """
    return base64.urlsafe_b64encode(os.urandom(_KEY_BYTES)).decode("ascii")


class SecretBox:
    """Authenticated encryption of secrets at rest with AES-256-GCM.

    Tokens look like ``v1.<key id>.<base64url(nonce || ciphertext || tag)>``:
    the version allows the format to change, the key id (a truncated,
    domain-separated SHA-256 of the key, not the key itself) selects the
    decryption key, and a random 96-bit nonce is drawn for every call.

    Key rotation: ``SecretBox(keys=[current, *previous])`` encrypts with
    ``current`` and decrypts tokens made with any listed key. Re-encrypt stored
    tokens (decrypt, then encrypt) before dropping an old key.

    ``associated_data`` binds a token to its context (for example the row id of
    the credential it belongs to) so it cannot be copied into another row; the
    same bytes must be given to :meth:`decrypt`.
    """

    __slots__ = ("_ciphers", "_current_id")

    def __init__(self, keys: Sequence[bytes]) -> None:
        """Create a box from raw 32-byte keys, current key first.

        Raises ``ValueError`` if the list is empty, a key is not 32 bytes or a
        key is listed twice.
        """
        if isinstance(keys, bytes | bytearray | str):
            raise TypeError("keys must be a sequence of keys, not a single key")
        if not keys:
            raise ValueError("at least one secret key is required")
        ciphers: dict[str, AESGCM] = {}
        for position, key in enumerate(keys):
            if not isinstance(key, bytes | bytearray) or len(key) != _KEY_BYTES:
                raise ValueError(f"secret key #{position + 1} must be {_KEY_BYTES} raw bytes")
            key_id = _key_id(bytes(key))
            if key_id in ciphers:
                raise ValueError(f"secret key #{position + 1} is listed more than once")
            ciphers[key_id] = AESGCM(bytes(key))
        self._ciphers: dict[str, AESGCM] = ciphers
        self._current_id: str = next(iter(ciphers))

    @classmethod
    def from_key_text(cls, text: str) -> SecretBox:
        """Create a box from configuration text.

        ``text`` is one base64 or URL-safe base64 encoded 32-byte key (padding
        optional), or several separated by commas, current key first, to support
        rotation. Raises ``ValueError`` describing the problem; the message never
        repeats the text.
        """
        parts = text.split(",")
        keys: list[bytes] = []
        for position, part in enumerate(parts):
            try:
                keys.append(_decode_key_text(part))
            except ValueError as exc:
                if len(parts) == 1:
                    raise
                raise ValueError(f"key #{position + 1}: {exc}") from None
        return cls(keys)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids of the configured keys, current key first (safe to log)."""
        return tuple(self._ciphers)

    def __repr__(self) -> str:
        """Show key ids only, never key material."""
        return f"SecretBox(key_ids={list(self._ciphers)!r})"

    def encrypt(self, plaintext: str, *, associated_data: bytes = b"") -> str:
        """Encrypt ``plaintext`` with the current key and return a token."""
        header = f"{_TOKEN_VERSION}.{self._current_id}."
        nonce = os.urandom(_NONCE_BYTES)
        # The header is authenticated too, so the version and key id cannot be swapped.
        sealed = self._ciphers[self._current_id].encrypt(
            nonce, plaintext.encode("utf-8"), header.encode("ascii") + associated_data
        )
        return header + _b64url_encode(nonce + sealed)

    def decrypt(self, token: str, *, associated_data: bytes = b"") -> str:
        """Decrypt a token produced by :meth:`encrypt` with any configured key.

        Raises :class:`SecretDecryptionError` if the token is malformed, was made
        with a key that is not configured, or fails authentication (tampering,
        wrong key, different ``associated_data``).
        """
        pieces = token.split(".")
        if len(pieces) != 3:
            raise SecretDecryptionError("malformed secret token")
        version, key_id, payload = pieces
        if version != _TOKEN_VERSION:
            raise SecretDecryptionError("unsupported secret token version")
        if not _KEY_ID_PATTERN.fullmatch(key_id):
            raise SecretDecryptionError("malformed secret token")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SecretDecryptionError(
                f"secret token was encrypted with unknown key id {key_id!r}"
            )
        raw = _b64url_decode_canonical(payload)
        if raw is None or len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise SecretDecryptionError("malformed secret token")
        header = f"{version}.{key_id}.".encode("ascii")
        try:
            plaintext = cipher.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], header + associated_data
            )
        except InvalidTag:
            raise SecretDecryptionError(
                "secret token failed authentication (tampered, wrong key or wrong context)"
            ) from None
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretDecryptionError("secret token does not contain UTF-8 text") from None


# ---------------------------------------------------------------------------
# Outbound URL guard (SSRF protection)
# ---------------------------------------------------------------------------


class UnsafeUrlError(ValueError):
    """A user-supplied URL may not be connected to.

    ``reason`` is a short explanation that is safe to return to the user.
    """

    def __init__(self, reason: str) -> None:
        """Store ``reason`` and use it as the message."""
        super().__init__(reason)
        self.reason = reason


def _v4(cidr: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(cidr)


def _v6(cidr: str) -> ipaddress.IPv6Network:
    return ipaddress.IPv6Network(cidr)


# Explicit tables rather than ipaddress.is_private & co.: those flags changed
# between Python patch releases, and an SSRF filter must not drift silently.
_BLOCKED_V4: Final[tuple[tuple[ipaddress.IPv4Network, str], ...]] = (
    (_v4("0.0.0.0/8"), "unspecified"),
    (_v4("10.0.0.0/8"), "private"),
    (_v4("100.64.0.0/10"), "carrier-grade NAT"),
    (_v4("127.0.0.0/8"), "loopback"),
    (_v4("169.254.0.0/16"), "link-local"),  # includes cloud metadata 169.254.169.254
    (_v4("172.16.0.0/12"), "private"),
    (_v4("192.0.0.0/24"), "reserved"),
    (_v4("192.0.2.0/24"), "reserved"),
    (_v4("192.88.99.0/24"), "reserved"),
    (_v4("192.168.0.0/16"), "private"),
    (_v4("198.18.0.0/15"), "reserved"),
    (_v4("198.51.100.0/24"), "reserved"),
    (_v4("203.0.113.0/24"), "reserved"),
    (_v4("224.0.0.0/4"), "multicast"),
    (_v4("240.0.0.0/4"), "reserved"),  # includes broadcast 255.255.255.255
)
_BLOCKED_V6: Final[tuple[tuple[ipaddress.IPv6Network, str], ...]] = (
    (_v6("::/128"), "unspecified"),
    (_v6("::1/128"), "loopback"),
    (_v6("64:ff9b:1::/48"), "private"),  # local-use NAT64
    (_v6("100::/64"), "reserved"),  # discard-only
    (_v6("2001::/32"), "reserved"),  # Teredo: tunnels to arbitrary IPv4
    (_v6("2001:db8::/32"), "reserved"),  # documentation
    (_v6("fc00::/7"), "private"),  # unique local
    (_v6("fe80::/10"), "link-local"),
    (_v6("fec0::/10"), "private"),  # deprecated site-local
    (_v6("ff00::/8"), "multicast"),
)
# Only IPv6 global unicast space is routable on the internet; everything else
# (including the deprecated IPv4-compatible ::a.b.c.d) is treated as reserved.
_GLOBAL_UNICAST_V6: Final = _v6("2000::/3")
_NAT64_V6: Final = _v6("64:ff9b::/96")

_LOCAL_NAMES: Final = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
)
# Suffixes reserved for local or private use (RFC 6761, RFC 6762, RFC 8375,
# ICANN ".internal", which also covers metadata.google.internal).
_LOCAL_SUFFIXES: Final = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa")
_LABEL: Final = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME_PATTERN: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_NUMERIC_LABEL_PATTERN: Final = re.compile(r"[0-9]+|0x[0-9a-f]*")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def _classify(address: _IPAddress) -> str | None:
    """Return why ``address`` is not a public destination, or None if it is."""
    if isinstance(address, ipaddress.IPv6Address):
        # Addresses that embed an IPv4 destination are judged by that destination.
        if address.ipv4_mapped is not None:
            return _classify(address.ipv4_mapped)
        if address in _NAT64_V6:
            return _classify(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            return _classify(address.sixtofour)
        for network6, category in _BLOCKED_V6:
            if address in network6:
                return category
        return None if address in _GLOBAL_UNICAST_V6 else "reserved"
    for network4, category in _BLOCKED_V4:
        if address in network4:
            return category
    return None


def _parse_ipv4_number(label: str) -> int | None:
    if label.startswith("0x"):
        # "0x" alone is zero for the WHATWG URL parser; err on the side of an IP.
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8) if all(c in "01234567" for c in label) else None
    return int(label) if label.isdigit() else None


def _parse_ipv4_like(host: str) -> ipaddress.IPv4Address | None:
    """Parse the IPv4 forms accepted by inet_aton and the WHATWG URL parser.

    Handles 1 to 4 dot-separated parts, each decimal, octal (leading 0) or hex
    (0x), where the last part fills the remaining bytes: ``2130706433``,
    ``0x7f.1``, ``0177.0.0.1`` and ``127.1`` all mean 127.0.0.1. Returns None if
    ``host`` does not look numeric; raises UnsafeUrlError if it looks numeric
    but is not a valid address (resolvers disagree on such hosts), or if it is
    not the standard dotted quad: httpx refuses ``0177.0.0.1`` and hands
    ``0x7f.1`` to the resolver as a name, so only ``a.b.c.d`` is deliverable
    the same way by every client.
    """
    labels = host.split(".")
    if not _NUMERIC_LABEL_PATTERN.fullmatch(labels[-1]):
        return None
    if len(labels) > 4:
        raise UnsafeUrlError("host is not a valid IP address")
    numbers: list[int] = []
    for label in labels:
        number = _parse_ipv4_number(label) if label else None
        if number is None:
            raise UnsafeUrlError("host is not a valid IP address")
        numbers.append(number)
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise UnsafeUrlError("host is not a valid IP address")
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    address = ipaddress.IPv4Address(value)
    if str(address) != host:
        raise UnsafeUrlError(
            f"host is an IPv4 address in a non-standard form: write it as {address}"
        )
    return address


@dataclass(frozen=True, slots=True)
class _Target:
    host: str
    port: int
    address: _IPAddress | None
    trusted: bool


class OutboundUrlGuard:
    """Reject user-supplied URLs that point at internal infrastructure (SSRF).

    A URL is rejected with :class:`UnsafeUrlError` if its scheme is not http or
    https, it has no host, it contains credentials, or its host is (or resolves
    to) a loopback, private, link-local (including cloud metadata at
    169.254.169.254), unspecified, multicast, reserved or carrier-grade NAT
    address, including IPv4-mapped/NAT64/6to4 IPv6 forms of those. Local-style
    names (``localhost``, ``*.local``, ``*.internal``, ...) and single-label
    names (``http://postgres/``, which resolve through search domains or
    container DNS) are rejected without resolving them.

    Every URL accepted is one httpx sends to the host that was checked: hosts
    are ASCII (``xn--`` A-labels for international names; the reason names the
    form to write), without a trailing dot, and IPv4 addresses are dotted quads
    (``http://2130706433/``, ``http://0x7f.1/`` and ``http://0177.0.0.1/`` are
    refused, naming the standard form). These syntax rules hold whatever the
    overrides below.

    ``allow_private=True`` (development setups) or listing the host in
    ``allowed_hosts`` (exact host name or IP, case-insensitive, no subdomains)
    skips the address and name checks for that URL; scheme, credential and
    syntax checks always apply.

    DNS rebinding: a name can resolve to a public address during the check and
    to an internal one when the client connects. Use :meth:`resolve_checked`
    and connect to one of the returned addresses (sending the original host in
    the ``Host`` header and as TLS server name) instead of resolving again, and
    do not follow redirects without checking each target.
    """

    __slots__ = ("_allow_private", "_allowed_hosts", "_resolve_timeout")

    def __init__(
        self,
        allow_private: bool = False,
        allowed_hosts: Iterable[str] = frozenset(),
        *,
        resolve_timeout: float = 5.0,
    ) -> None:
        """Configure the guard.

        ``resolve_timeout`` bounds DNS resolution in seconds; a timeout counts
        as "host does not resolve".
        """
        if isinstance(allowed_hosts, str):
            raise TypeError("allowed_hosts must be a collection of host names, not a string")
        self._allow_private = allow_private
        # Normalized like URL hosts, so "[::1]", "::1" and "LocalHost." all match.
        self._allowed_hosts = frozenset(_normalize_allowed_host(h) for h in allowed_hosts)
        self._resolve_timeout = resolve_timeout

    def __repr__(self) -> str:
        """Show the configuration."""
        return (
            f"OutboundUrlGuard(allow_private={self._allow_private!r}, "
            f"allowed_hosts={sorted(self._allowed_hosts)!r})"
        )

    def check_literal(self, url: str) -> None:
        """Validate ``url`` without DNS resolution; raise UnsafeUrlError if unsafe.

        Meant for input validation (for example in controllers); a URL that
        passes may still resolve to an internal address, so connect only after
        :meth:`check` or :meth:`resolve_checked`.
        """
        self._target(url)

    async def check(self, url: str) -> None:
        """Validate ``url`` including DNS resolution; raise UnsafeUrlError if unsafe.

        Every resolved address must be public. Prefer :meth:`resolve_checked`
        when connecting, to pin the checked addresses.
        """
        await self.resolve_checked(url)

    async def resolve_checked(self, url: str) -> list[str]:
        """Validate ``url`` and return its checked IP addresses, in resolver order.

        IP-literal hosts are returned without resolving. Names are resolved with
        ``loop.getaddrinfo`` and rejected if any address is not public (a client
        may pick any of them). Connect to the returned addresses rather than
        resolving the name again, otherwise DNS rebinding can bypass the check.
        Raises UnsafeUrlError("host does not resolve") if resolution fails.
        """
        target = self._target(url)
        if target.address is not None:
            return [str(target.address)]
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(
                    target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
                ),
                timeout=self._resolve_timeout,
            )
        except (OSError, UnicodeError, TimeoutError):
            raise UnsafeUrlError("host does not resolve") from None
        addresses: list[str] = []
        for family, _type, _proto, _canonname, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(sockaddr[0], str):
                raise UnsafeUrlError("host resolves to an unsupported address type")
            # Drop an IPv6 scope id ("fe80::1%eth0") before classifying.
            address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
            if not target.trusted:
                category = _classify(address)
                if category is not None:
                    raise UnsafeUrlError(f"host resolves to a non-public address ({category})")
            text = str(address)
            if text not in addresses:
                addresses.append(text)
        if not addresses:
            raise UnsafeUrlError("host does not resolve")
        return addresses

    def _target(self, url: str) -> _Target:
        # Whitespace, control characters and backslashes are parsed differently
        # by different URL parsers, which is a classic way to smuggle a host.
        if any(ord(c) <= 0x20 or ord(c) == 0x7F or c == "\\" for c in url):
            raise UnsafeUrlError("URL contains whitespace, control characters or backslashes")
        try:
            parts = urlsplit(url)
        except ValueError:
            raise UnsafeUrlError("URL is not valid") from None
        if parts.scheme not in _DEFAULT_PORTS:
            raise UnsafeUrlError("URL scheme must be http or https")
        try:
            port = parts.port
        except ValueError:
            raise UnsafeUrlError("URL has an invalid port") from None
        if "@" in parts.netloc:
            raise UnsafeUrlError("URL must not contain credentials")
        host = parts.hostname or ""
        if not host:
            raise UnsafeUrlError("URL has no host")
        if port is None:
            port = _DEFAULT_PORTS[parts.scheme]
        elif port == 0:
            raise UnsafeUrlError("URL has an invalid port")
        if not host.isascii():
            raise UnsafeUrlError(_non_ascii_host_reason(url))
        address, host = _parse_host(host)
        _check_client_agrees(url, address, host)
        key = str(address) if address is not None else host
        trusted = self._allow_private or key in self._allowed_hosts
        if not trusted:
            if address is not None:
                category = _classify(address)
                if category is not None:
                    raise UnsafeUrlError(f"host is a non-public address ({category})")
            else:
                _check_name(host)
        return _Target(host=host, port=port, address=address, trusted=trusted)


def _parse_host(host: str) -> tuple[_IPAddress | None, str]:
    """Return (IP address or None, normalized host name) for a URL host."""
    if ":" in host:
        if "%" in host:
            raise UnsafeUrlError("IPv6 zone identifiers are not allowed")
        try:
            return ipaddress.IPv6Address(host), host
        except ValueError:
            raise UnsafeUrlError("host is not a valid IP address") from None
    if not host.isascii():
        raise UnsafeUrlError("host name must be ASCII (IDNA A-labels, xn--...)")
    if host.endswith("."):
        # An absolute name: httpx sends "name." as the Host header and TLS name,
        # which servers and certificates do not match.
        raise UnsafeUrlError("host name must not end with a dot")
    if not host or len(host) > 253:
        raise UnsafeUrlError("host name is not valid")
    address = _parse_ipv4_like(host)
    if address is not None:
        return address, host
    if not _HOSTNAME_PATTERN.fullmatch(host):
        raise UnsafeUrlError("host name is not valid")
    return None, host


def _client_url(url: str) -> httpx.URL:
    """``url`` as httpx parses it (IDNA encoding included), the way it will be sent."""
    try:
        parsed = httpx.URL(url)
        parsed.host  # noqa: B018 - decodes the A-labels, as httpx does to build a request
        return parsed
    except UnicodeError:  # idna.IDNAError: an A-label that does not decode
        raise UnsafeUrlError("host name is not valid") from None
    except (httpx.InvalidURL, ValueError):
        raise UnsafeUrlError("URL is not valid") from None


def _non_ascii_host_reason(url: str) -> str:
    """Why a non-ASCII host is refused, naming its ASCII form when httpx has one.

    Callers send the URL's host as the Host header, which httpx encodes as ASCII
    (a UnicodeEncodeError at delivery), and IDNA maps look-alikes such as
    fullwidth digits onto other hosts: the user writes the A-labels themself.
    """
    try:
        ascii_host = _client_url(url).raw_host.decode("ascii")
    except UnsafeUrlError:
        return "host name is not valid"
    return f"host name must be ASCII: write it as {ascii_host}"


def _check_client_agrees(url: str, address: _IPAddress | None, host: str) -> None:
    """Refuse a URL httpx would refuse, or connect to another host than the one checked."""
    client_host = _client_url(url).raw_host.decode("ascii")
    if address is not None:
        try:
            agrees = ipaddress.ip_address(client_host) == address
        except ValueError:
            agrees = False
    else:
        agrees = client_host == host
    if not agrees:
        raise UnsafeUrlError("URL is not valid")


def _check_name(host: str) -> None:
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES):
        raise UnsafeUrlError("host name refers to the local machine or network")
    if "." not in host:
        raise UnsafeUrlError("host name must be fully qualified (contain a dot)")


def _normalize_allowed_host(host: str) -> str:
    # Configuration may name an absolute host ("localhost."): it matches the URL host.
    text = host.strip().lower().removesuffix(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        address, normalized = _parse_host(text)
    except UnsafeUrlError as exc:
        raise ValueError(f"allowed host {host!r} is not valid: {exc.reason}") from None
    return str(address) if address is not None else normalized
