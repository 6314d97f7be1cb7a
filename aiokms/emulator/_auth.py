"""SigV4 request verification, as AWS's JSON services do it, given an explicit clock.

How this works: the ``Authorization`` header names the access key, the credential scope
(``date/region/service/aws4_request``), the signed headers and the signature. The verifier
checks the header's form, finds the secret of the access key, checks the scope against its own
region and service and the request time against ``now`` (at most five minutes either way), then
rebuilds the canonical request from the method, path, query, the *signed* headers as received
and the SHA-256 of the body actually received, with :mod:`aiokms._signing`'s
``canonical_request`` and ``string_to_sign``, and compares signatures in constant time. A
wrong secret, a changed signed header or a changed body therefore all fail the comparison.

Failures raise :class:`KMSError` with what AWS answers for JSON-protocol services (HTTP 400,
``__type`` and message): ``MissingAuthenticationTokenException`` (no ``Authorization``),
``IncompleteSignatureException`` (a malformed header, no date), ``UnrecognizedClientException``
(an unknown access key or a wrong session token) and ``InvalidSignatureException`` (a wrong
scope, ``Signature expired: ...`` / ``Signature not yet current: ...`` for clock skew, and the
signature mismatch).

Pure code: the caller passes the request's parts and ``now`` (epoch seconds).
"""

from __future__ import annotations

import calendar
import datetime
import email.utils
import functools
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

from aiokms._signing import (
    ALGORITHM,
    _key_states,
    canonical_request,
    hmac_hex,
    string_to_sign,
)
from aiokms.emulator._errors import KMSError

__all__ = ["MAX_SKEW", "Identity", "SigV4Verifier"]

MAX_SKEW = 300.0  # seconds; AWS's "5 min."
_AMZ_FORMAT = "%Y%m%dT%H%M%SZ"
_States = tuple["hashlib._Hash", "hashlib._Hash"]

_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z", re.ASCII)
# the Authorization header as SDKs write it; any other form goes through the full parse
_USUAL_AUTHORIZATION = re.compile(
    ALGORITHM + r" Credential=([^,\s]+), ?SignedHeaders=([^,\s]+), ?Signature=([^,\s]+)"
)
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
_BAD_TOKEN = "The security token included in the request is invalid."


@dataclass(frozen=True, slots=True)
class Identity:
    """Credentials the emulator accepts; ``token`` is required when set."""

    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:
        token = ", token=<redacted>" if self.token else ""
        return f"Identity(access_key={self.access_key!r}, secret_key=<redacted>{token})"


def _incomplete(message: str) -> KMSError:
    return KMSError("IncompleteSignatureException", message)


def _invalid(message: str) -> KMSError:
    return KMSError("InvalidSignatureException", message)


def _format(moment: datetime.datetime) -> str:
    return moment.strftime(_AMZ_FORMAT)


def _bad_date(value: str) -> KMSError:
    return _incomplete(
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


@functools.lru_cache(maxsize=8)  # one X-Amz-Date value serves every request of its second
def _epoch(amz_date: str) -> int | None:
    """Epoch seconds of an ``X-Amz-Date`` value, or ``None`` if it is not one."""
    if len(amz_date) != 16 or not _AMZ_DATE.fullmatch(amz_date):
        return None
    try:
        moment = datetime.datetime(
            int(amz_date[0:4]),
            int(amz_date[4:6]),
            int(amz_date[6:8]),
            int(amz_date[9:11]),
            int(amz_date[11:13]),
            int(amz_date[13:15]),
        )
    except ValueError:  # month 13 and the like
        return None
    return calendar.timegm(moment.timetuple())


class SigV4Verifier:
    """Checks SigV4 ``Authorization`` headers for a service in one region (or a few).

    Args:
        identities: the accepted credentials.
        region: the region the credential scope must name.
        service: the service the credential scope must name (``kms``).
        max_skew: seconds the request time may differ from ``now``.
        regions: other regions the credential scope may name.
    """

    __slots__ = ("_identities", "_keys", "_regions", "max_skew", "region", "service")

    def __init__(
        self,
        identities: Iterable[Identity],
        *,
        region: str,
        service: str = "kms",
        max_skew: float = MAX_SKEW,
        regions: Iterable[str] = (),
    ) -> None:
        self._identities = {identity.access_key: identity for identity in identities}
        self.region = region
        self._regions = frozenset({region, *regions})
        self.service = service
        self.max_skew = max_skew
        self._keys: dict[tuple[str, str, str], _States] = {}

    def __repr__(self) -> str:
        return (
            f"<SigV4Verifier region={self.region!r} service={self.service!r} "
            f"access_keys={sorted(self._identities)!r}>"
        )

    def verify(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        now: float,
    ) -> Identity:
        """Return the identity that signed the request, or raise the AWS error.

        Arguments and errors as :meth:`verify_scoped`'s.
        """
        return self.verify_scoped(
            method=method, path=path, query=query, headers=headers, body=body, now=now
        )[0]

    def verify_scoped(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        now: float,
    ) -> tuple[Identity, str]:
        """Return the identity that signed the request and the region its scope names, or
        raise the AWS error.

        Args:
            method: the HTTP method.
            path: the raw request path (before percent-decoding).
            query: the raw query string, without ``?``.
            headers: the request headers as received, repeated names allowed.
            body: the request body as received.
            now: the server's time, in epoch seconds.

        Raises:
            KMSError: the request is not correctly signed by a known identity, in time.
        """
        values: dict[str, list[str]] = {}
        for name, value in headers:
            values.setdefault(name.lower(), []).append(value)

        authorization = values.get("authorization")
        if not authorization:
            raise KMSError(
                "MissingAuthenticationTokenException", "Request is missing Authentication Token"
            )
        auth = authorization[0]
        credential, signed_headers, signature = self._parse(auth, values)
        amz_date, signed_at, date_header = self._request_time(auth, values)

        access_key, _, scope = credential.partition("/")
        parts = credential.split("/")
        if len(parts) != 5:
            raise _incomplete(
                "Credential must have exactly 5 slash-delimited elements, "
                f"e.g. keyid/date/region/service/term, got '{credential}'"
            )
        identity = self._identities.get(access_key)
        if identity is None:
            raise KMSError("UnrecognizedClientException", _BAD_TOKEN)
        token = values.get("x-amz-security-token")
        if (token[0] if token else None) != identity.token:
            raise KMSError("UnrecognizedClientException", _BAD_TOKEN)

        _, datestamp, region, service, terminator = parts
        if datestamp != amz_date[:8]:
            raise _invalid(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{datestamp}' != '{amz_date[:8]}', from '{date_header}'."
            )
        if region not in self._regions:
            raise _invalid(f"Credential should be scoped to a valid region, not '{region}'. ")
        if service != self.service:
            raise _invalid(f"Credential should be scoped to correct service: '{self.service}'. ")
        if terminator != "aws4_request":
            raise _invalid(
                "Credential should be scoped with a valid terminator: 'aws4_request', "
                f"not '{terminator}'. "
            )
        self._check_time(amz_date, signed_at, now)

        names = signed_headers.split(";")
        if "host" not in names:
            raise _invalid(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
            )
        signed = [(name, value) for name in names for value in values.get(name, ("",))]
        creq, _ = canonical_request(method, path, query, signed, hashlib.sha256(body).hexdigest())
        sts = string_to_sign(amz_date, scope, creq)
        expected = hmac_hex(self._key_states(identity, datestamp, region), sts.encode())
        # compare_digest refuses str with non-ASCII characters (TypeError): such a signature
        # is simply not the one expected
        if not signature.isascii() or not hmac.compare_digest(expected, signature):
            raise _invalid(_MISMATCH)
        return identity, region

    def _parse(self, auth: str, values: dict[str, list[str]]) -> tuple[str, str, str]:
        """``(Credential, SignedHeaders, Signature)`` of an Authorization header."""
        usual = _USUAL_AUTHORIZATION.fullmatch(auth)
        if usual is not None and ("x-amz-date" in values or "date" in values):
            return usual[1], usual[2], usual[3]  # what _parse_fields finds, sooner
        return self._parse_fields(auth, values)

    @staticmethod
    def _parse_fields(auth: str, values: dict[str, list[str]]) -> tuple[str, str, str]:
        algorithm, _, rest = auth.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'")
        fields: dict[str, str] = {}
        for item in rest.split(","):
            item = item.strip()
            if not item:
                continue
            name, equals, value = item.partition("=")
            if not equals:
                raise _incomplete(
                    f"'{item}' not a valid key=value pair (missing equal-sign) in "
                    f"Authorization header: '{auth}'."
                )
            fields[name] = value
        missing = [
            f"Authorization header requires '{name}' parameter. "
            for name in ("Credential", "Signature", "SignedHeaders")
            if not fields.get(name)
        ]
        if "x-amz-date" not in values and "date" not in values:
            missing.append(
                "Authorization header requires existence of either a 'X-Amz-Date' or a "
                "'Date' header. "
            )
        if missing:
            raise _incomplete("".join(missing) + f"Authorization={auth}")
        return fields["Credential"], fields["SignedHeaders"], fields["Signature"]

    @staticmethod
    def _request_time(auth: str, values: dict[str, list[str]]) -> tuple[str, int, str]:
        """The request time in the X-Amz-Date format and in epoch seconds, and the header it
        came from."""
        amz = values.get("x-amz-date")
        if amz:
            signed_at = _epoch(amz[0])
            if signed_at is None:
                raise _bad_date(amz[0])
            return amz[0], signed_at, "X-Amz-Date"
        http_date = values["date"][0]
        try:
            parsed = email.utils.parsedate_to_datetime(http_date)
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(datetime.timezone.utc)
        except (TypeError, ValueError, OverflowError):  # OverflowError: past year 9999 in UTC
            raise _bad_date(http_date) from None
        if parsed.year < 1000:  # X-Amz-Date's year has four digits
            raise _bad_date(http_date)
        return _format(parsed), calendar.timegm(parsed.timetuple()), "Date"

    def _check_time(self, amz_date: str, signed_at: int, now: float) -> None:
        if abs(signed_at - now) <= self.max_skew:
            return
        server = datetime.datetime.fromtimestamp(int(now), datetime.timezone.utc)
        skew = datetime.timedelta(seconds=self.max_skew)
        minutes = f"{self.max_skew / 60:g} min."
        if signed_at < now:
            raise _invalid(
                f"Signature expired: {amz_date} is now earlier than {_format(server - skew)} "
                f"({_format(server)} - {minutes})"
            )
        raise _invalid(
            f"Signature not yet current: {amz_date} is still later than "
            f"{_format(server + skew)} ({_format(server)} + {minutes})"
        )

    def _key_states(self, identity: Identity, datestamp: str, region: str) -> _States:
        """HMAC-SHA256 under the day's signing key as its two hash states, to copy (a
        fraction of what ``hmac.digest`` costs per call)."""
        cache_key = (identity.access_key, datestamp, region)
        states = self._keys.get(cache_key)
        if states is None:
            if len(self._keys) > 16:  # a few days' worth per identity is plenty
                self._keys.clear()
            states = _key_states(identity.secret_key, datestamp, region, self.service)
            self._keys[cache_key] = states
        return states
