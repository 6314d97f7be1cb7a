"""AWS Signature Version 4 (header signing), as pure functions of their inputs.

How this works: a request is reduced to a *canonical request* (method, URI, query, the signed
headers and the SHA-256 of the body), which is hashed into a *string to sign* together with the
time and the credential scope (``date/region/service/aws4_request``). The signature is an
HMAC-SHA256 of that string under a *signing key* derived from the secret key by four chained
HMACs over the scope. The derived key depends only on the secret and the scope, so each
:class:`JsonPostSigner` (one per client) keeps the day's key; everything else is a handful of
string joins and two hashes. For the one request shape KMS needs, :class:`JsonPostSigner`
precomputes the canonical form, and a :class:`SigningContext` keeps, for one second and one set
of credentials, the hash states of the parts no request changes. Nothing is cached for the
whole process: a client's secret and the keys derived from it go with the client.

Nothing here reads a clock: the caller passes ``now``.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import posixpath
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from urllib.parse import quote, unquote_to_bytes

__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "HeaderMap",
    "JsonPostSigner",
    "SigningContext",
    "Signer",
    "canonical_headers",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "hmac_hex",
    "signing_key",
    "string_to_sign",
]

# a request's headers from a dict of them: ``dict``, or the HTTP client's own mapping type
HeaderMap = Callable[[Mapping[str, str]], MutableMapping[str, str]]

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_UNRESERVED = "-_.~"


def signing_key(secret_key: str, datestamp: str, region: str, service: str) -> bytes:
    """Derive the SigV4 signing key for one day, region and service."""
    key = ("AWS4" + secret_key).encode()
    for part in (datestamp, region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def _key_states(
    secret_key: str, datestamp: str, region: str, service: str
) -> tuple[hashlib._Hash, hashlib._Hash]:
    """HMAC-SHA256 under the day's signing key, as the two hash states after the key pads.

    Copying these two states (RFC 2104's inner and outer hashes, key already absorbed) costs a
    fraction of ``hmac.digest``, which looks the digest up by name and builds a fresh HMAC
    context for every signature. Not cached here: :class:`JsonPostSigner` keeps the day's.
    """
    key = signing_key(secret_key, datestamp, region, service).ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


def hmac_hex(key_states: tuple[hashlib._Hash, hashlib._Hash], message: bytes) -> str:
    """The hex HMAC-SHA256 of ``message`` under the key whose two states :func:`_key_states`
    made; the states are copied, not changed, so a day's may be kept and used again."""
    inner = key_states[0].copy()
    inner.update(message)
    outer = key_states[1].copy()
    outer.update(inner.digest())
    return outer.hexdigest()


def canonical_uri(path: str, *, normalize: bool = True) -> str:
    """The URI-encoded path, with dot segments and repeated slashes removed when ``normalize``."""
    if path in ("", "/"):
        return "/"
    if normalize:
        trailing = path.endswith("/")
        path = posixpath.normpath(path)
        path = "/" + path.lstrip("/") if path != "." else "/"
        if trailing and path != "/":
            path += "/"
    return quote(path, safe="/" + _UNRESERVED)


def canonical_query(query: str) -> str:
    """Query parameters decoded, re-encoded strictly and sorted by name, then value."""
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        # Decoded to bytes, not text: a percent-encoded byte that is not UTF-8 (``%FF``) must
        # come back as itself, not as the encoding of U+FFFD.
        pairs.append(
            (
                quote(unquote_to_bytes(name), safe=_UNRESERVED),
                quote(unquote_to_bytes(value), safe=_UNRESERVED),
            )
        )
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_headers(headers: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """Return ``(canonical headers block, signed headers list)`` for the given headers.

    Names are lower-cased and sorted; values are trimmed with inner runs of white space folded
    to one space; repeated names keep their values in order, joined by commas.
    """
    grouped: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        value = " ".join(value.split())
        earlier = grouped.get(name)
        grouped[name] = value if earlier is None else f"{earlier},{value}"
    names = sorted(grouped)
    block = "".join([f"{name}:{grouped[name]}\n" for name in names])
    return block, ";".join(names)


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    payload_hash: str,
    *,
    normalize_path: bool = True,
) -> tuple[str, str]:
    """Return ``(canonical request, signed headers list)``; every given header is signed."""
    block, signed = canonical_headers(headers)
    creq = "\n".join(
        (
            method,
            canonical_uri(path, normalize=normalize_path),
            canonical_query(query),
            block,
            signed,
            payload_hash,
        )
    )
    return creq, signed


def string_to_sign(amz_date: str, scope: str, creq: str) -> str:
    """The string whose HMAC under the signing key is the signature."""
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"


def amz_date(now: datetime.datetime) -> str:
    """``now`` (aware, or naive UTC) in the ``X-Amz-Date`` format."""
    if now.tzinfo is not None:
        now = now.astimezone(datetime.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ")


class Signer:
    """Signs requests for one region and service; holds no credentials.

    Args:
        region: the region in the credential scope, such as ``"eu-west-1"``.
        service: the signing name, ``"kms"`` for KMS.
    """

    __slots__ = ("region", "service")

    def __init__(self, region: str, service: str = "kms") -> None:
        self.region = region
        self.service = service

    def __repr__(self) -> str:
        return f"<Signer region={self.region!r} service={self.service!r}>"

    def authorization(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: Iterable[tuple[str, str]],
        payload_hash: str,
        access_key: str,
        secret_key: str,
        amz_date: str,
        normalize_path: bool = True,
    ) -> str:
        """The ``Authorization`` header value for a request whose headers are all signed.

        ``headers`` must already hold ``X-Amz-Date`` (equal to ``amz_date``) and, for temporary
        credentials, ``X-Amz-Security-Token``.
        """
        creq, signed = canonical_request(
            method, path, query, headers, payload_hash, normalize_path=normalize_path
        )
        return self.sign(creq, signed, amz_date, access_key, secret_key)

    def sign(
        self, creq: str, signed_headers: str, amz_date: str, access_key: str, secret_key: str
    ) -> str:
        """The ``Authorization`` header value for an already canonical request."""
        datestamp = amz_date[:8]
        scope = f"{datestamp}/{self.region}/{self.service}/aws4_request"
        signature = hmac_hex(
            _key_states(secret_key, datestamp, self.region, self.service),
            string_to_sign(amz_date, scope, creq).encode(),
        )
        return (
            f"{ALGORITHM} Credential={access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )


class JsonPostSigner:
    """Signs the one request shape KMS needs, with its canonical form mostly precomputed.

    Every KMS call is ``POST /`` without a query, and signs exactly ``Content-Type``, ``Host``,
    ``X-Amz-Date``, ``X-Amz-Target`` and, with temporary credentials, ``X-Amz-Security-Token``.
    Their canonical block is a fixed prefix plus three values, so building it is one f-string
    rather than the general sort-and-fold (``tests/test_signing.py`` checks they agree).
    What stays the same for one ``X-Amz-Date`` and one set of credentials is kept in a
    :class:`SigningContext` (see :meth:`context`); the signing key of the last day and secret
    signed for is kept here, until :meth:`forget`.

    Args:
        signer: the region and service to sign for.
        host: the ``Host`` header value.
        content_type: the ``Content-Type`` header value.
        header_map: makes the mapping of a request's headers from a dict (``dict`` by
            default); the transport's own type saves its HTTP client a copy per request.
    """

    __slots__ = ("_content_type", "_day_key", "_header_map", "_host", "_prefix", "_signer")

    def __init__(
        self,
        signer: Signer,
        host: str,
        content_type: str,
        header_map: HeaderMap = dict,
    ) -> None:
        self._signer = signer
        self._host = host
        self._content_type = content_type
        self._header_map = header_map
        self._prefix = f"POST\n/\n\ncontent-type:{content_type}\nhost:{host}\n"
        # (secret, datestamp, inner, outer): the last day's signing key, as hash states
        self._day_key: tuple[str, str, hashlib._Hash, hashlib._Hash] | None = None

    def __repr__(self) -> str:
        return f"<JsonPostSigner {self._host} {self._signer!r}>"

    def context(
        self, amz_date: str, access_key: str, secret_key: str, token: str | None
    ) -> SigningContext:
        """What every request signed at ``amz_date`` with these credentials shares."""
        datestamp = amz_date[:8]
        day_key = self._day_key
        if day_key is None or day_key[0] != secret_key or day_key[1] != datestamp:
            signer = self._signer
            inner, outer = _key_states(secret_key, datestamp, signer.region, signer.service)
            day_key = self._day_key = (secret_key, datestamp, inner, outer)
        return SigningContext(
            self._signer,
            self._prefix,
            amz_date,
            access_key,
            secret_key,
            token,
            (day_key[2], day_key[3]),
            self._header_map,
        )

    def forget(self) -> None:
        """Drop the signing key kept (its owner is closing)."""
        self._day_key = None

    def headers(
        self,
        target: str,
        payload_hash: str,
        amz_date: str,
        access_key: str,
        secret_key: str,
        token: str | None,
    ) -> dict[str, str]:
        """The request's signed headers, ``Authorization`` included."""
        context = self.context(amz_date, access_key, secret_key, token)
        return {
            "Content-Type": self._content_type,
            "Host": self._host,
            **context.headers(target, payload_hash),
        }


class SigningContext:
    """A :class:`JsonPostSigner`'s work for one ``X-Amz-Date`` and one set of credentials.

    At one date and with one key, two requests' canonical requests differ only from
    ``X-Amz-Target`` on, and their strings to sign only in the canonical request's hash. So
    the SHA-256 states after the common beginnings are computed here once (per target for the
    canonical request) and each request copies them and hashes only the rest: a block or two
    instead of five. The result is the same signature, byte for byte.

    ``key_states`` are the day's signing key as HMAC states (see :meth:`JsonPostSigner.context`);
    they are copied, never consumed.

    Attributes:
        amz_date, access_key, secret_key, token: what the context was made for.
    """

    __slots__ = (
        "_authorization",
        "_creq_head",
        "_creq_states",
        "_creq_tail",
        "_header_map",
        "_headers",
        "_outer",
        "_sts",
        "access_key",
        "amz_date",
        "secret_key",
        "token",
    )

    def __init__(
        self,
        signer: Signer,
        creq_prefix: str,
        amz_date: str,
        access_key: str,
        secret_key: str,
        token: str | None,
        key_states: tuple[hashlib._Hash, hashlib._Hash],
        header_map: HeaderMap = dict,
    ) -> None:
        self.amz_date = amz_date
        self.access_key = access_key
        self.secret_key = secret_key
        self.token = token
        datestamp = amz_date[:8]
        scope = f"{datestamp}/{signer.region}/{signer.service}/aws4_request"
        inner, self._outer = key_states
        self._sts = inner.copy()
        self._sts.update(f"{ALGORITHM}\n{amz_date}\n{scope}\n".encode())
        self._header_map = header_map
        self._headers = {"X-Amz-Date": amz_date}
        if token:
            self._headers["X-Amz-Security-Token"] = token
            signed = _SIGNED_WITH_TOKEN
            token_line = f"x-amz-security-token:{' '.join(token.split())}\n"
        else:
            signed = _SIGNED
            token_line = ""
        self._creq_head = f"{creq_prefix}x-amz-date:{amz_date}\n{token_line}x-amz-target:"
        self._creq_tail = f"\n\n{signed}\n"
        self._creq_states: dict[str, hashlib._Hash] = {}
        self._authorization = (
            f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, Signature="
        )

    def __repr__(self) -> str:
        return f"<SigningContext {self.amz_date} targets={len(self._creq_states)}>"

    def headers(self, target: str, payload_hash: str) -> MutableMapping[str, str]:
        """The headers of a request to ``target`` that are not the same for every request.

        ``X-Amz-Date``, ``X-Amz-Target``, ``X-Amz-Security-Token`` (with temporary
        credentials) and ``Authorization``; ``Content-Type`` and ``Host`` are signed as the
        :class:`JsonPostSigner` was told and must be sent as such.
        """
        creq = self._creq_states.get(target)
        if creq is None:
            creq = self._creq_states[target] = hashlib.sha256(
                f"{self._creq_head}{target}{self._creq_tail}".encode()
            )
        creq = creq.copy()
        creq.update(payload_hash.encode())
        inner = self._sts.copy()
        inner.update(creq.hexdigest().encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        headers = self._header_map(self._headers)
        headers["X-Amz-Target"] = target
        headers["Authorization"] = self._authorization + outer.hexdigest()
        return headers


_SIGNED = "content-type;host;x-amz-date;x-amz-target"
_SIGNED_WITH_TOKEN = "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
