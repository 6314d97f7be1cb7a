"""Everything aiokms raises.

Service errors are what botocore raises, so code written for aiobotocore keeps working::

    botocore.exceptions.ClientError
     └── kms.exceptions.<Code>            one class per KMS error code of botocore's model,
                                          plus ThrottlingException (not in the model)

    botocore.exceptions.ParamValidationError   bad arguments, raised before anything is sent
    botocore.exceptions.NoCredentialsError     no credentials anywhere in the chain
    botocore.exceptions.CredentialRetrievalError   the credential source gave no answer within
                                               ``connect_timeout``
    botocore.exceptions.NoRegionError          no region from arguments, environment or profile

Failures below the service are translated from aiohttp and asyncio exceptions at one boundary
(``aiokms._transport.map_exceptions``) into this tree; each class also derives from the botocore
exception aiobotocore raises in the same situation::

    AiokmsError
     ├── TransportError        no valid reply          (botocore HTTPClientError)
     │    ├── ConnectError     could not connect       (botocore EndpointConnectionError)
     │    │    ├── CertificateError  the server's TLS certificate failed verification
     │    │    │                     (botocore SSLError); never retried
     │    │    └── ProxyError      the proxy could not be reached, or refused the tunnel
     │    │                        (botocore ProxyConnectionError)
     │    ├── ConnectTimeout   connecting timed out    (botocore ConnectTimeoutError)
     │    ├── ReadTimeout      the reply timed out     (botocore ReadTimeoutError)
     │    ├── ConnectionClosed closed mid-exchange     (botocore ConnectionClosedError)
     │    └── InvalidResponse  a reply we cannot parse (botocore.parsers.ResponseParserError)
     ├── RateLimited           its quota's adaptive limiter would hold the call past
     │                         ``max_rate_wait``
     ├── DeadlineExceeded      the call, retries included, outlived ``call_timeout``
     │                         (also the built-in TimeoutError)
     ├── ClientClosed          the client was closed before or during the call
     │                         (also the built-in RuntimeError)
     ├── WrongEventLoop        the client is used from an event loop other than its own
     │                         (also the built-in RuntimeError)
     ├── InvalidMessageError   a message that is malformed, tampered with, truncated, followed
     │                         by extra bytes, or not meant for this reader (opaque on purpose)
     └── ...                   (the cache errors join here)

A ``TransportError`` means the request may or may not have reached KMS: the retry policy treats
all of them as transient, except an ``InvalidResponse`` to a request KMS answered with success
(HTTP 2xx), which is raised at once, as botocore does: the operation has taken place, and a
``CertificateError`` (nothing was sent; trying again meets the same certificate). Messages
name the endpoint and the cause, never a credential or a payload.
"""

from __future__ import annotations

from botocore import exceptions as _boto
from botocore.parsers import ResponseParserError as _ResponseParserError

__all__ = [
    "AiokmsError",
    "CertificateError",
    "ClientClosed",
    "ClientExceptions",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionClosed",
    "DeadlineExceeded",
    "InvalidMessageError",
    "InvalidResponse",
    "ProxyError",
    "RateLimited",
    "ReadTimeout",
    "TransportError",
    "WrongEventLoop",
]

THROTTLING_CODE = "ThrottlingException"


class AiokmsError(Exception):
    """Base class of the errors aiokms raises itself (service errors are ``ClientError``)."""


class TransportError(AiokmsError, _boto.HTTPClientError):
    """No valid reply: the request may or may not have reached KMS."""

    fmt = 'Request to "{endpoint_url}" failed: {error}'

    def __init__(self, *, endpoint_url: str, error: object = "") -> None:
        _boto.HTTPClientError.__init__(self, endpoint_url=endpoint_url, error=error)


class ConnectError(TransportError, _boto.EndpointConnectionError):
    """Could not open a connection to the endpoint (refused, DNS, TLS handshake)."""

    fmt = 'Could not connect to the endpoint URL: "{endpoint_url}": {error}'


class CertificateError(ConnectError, _boto.SSLError):
    """The endpoint's TLS certificate failed verification: nothing was sent.

    The message names the problem as OpenSSL reports it (expired, not valid for the host name,
    issued by a CA that is not trusted, ...) and the trust store it was checked against. Not
    retried: the same certificate would be met again. A private CA is trusted with the
    client's ``verify=`` path, ``AWS_CA_BUNDLE`` or the profile's ``ca_bundle``.
    """

    fmt = 'Could not connect to the endpoint URL: "{endpoint_url}": {error}'


class ProxyError(ConnectError, _boto.ProxyConnectionError):
    """The proxy requests go through could not be reached, or would not open the tunnel.

    The message names the proxy (never its credentials), the setting that named it and what
    went wrong (``Connect call failed``, ``407 Proxy Authentication Required``, ...).
    """

    fmt = 'Could not connect to the endpoint URL: "{endpoint_url}" through {proxy}: {error}'

    def __init__(self, *, endpoint_url: str, proxy: str, error: object = "") -> None:
        _boto.HTTPClientError.__init__(
            self, endpoint_url=endpoint_url, proxy=proxy, proxy_url=proxy, error=error
        )


class ConnectTimeout(TransportError, _boto.ConnectTimeoutError):
    """Opening a connection took longer than ``connect_timeout``."""

    fmt = 'Connect timeout on endpoint URL: "{endpoint_url}"'


class ReadTimeout(TransportError, _boto.ReadTimeoutError):
    """The reply did not arrive within ``read_timeout``."""

    fmt = 'Read timeout on endpoint URL: "{endpoint_url}"'


class ConnectionClosed(TransportError, _boto.ConnectionClosedError):
    """The connection closed or reset before a complete reply arrived."""

    fmt = (
        "Connection was closed before we received a valid response from endpoint URL: "
        '"{endpoint_url}": {error}'
    )


class InvalidResponse(TransportError, _ResponseParserError):
    """A reply arrived but is not what the KMS protocol allows (bad JSON, bad base64, ...)."""

    fmt = 'Invalid response from endpoint URL: "{endpoint_url}": {error}'


class RateLimited(AiokmsError):
    """The adaptive limiter of the call's KMS quota would hold it longer than ``max_rate_wait``.

    Nothing was sent. Raised only when the client was made with ``max_rate_wait``, for callers
    that would rather shed load than queue behind a throttled KMS. (A retry that would wait
    too long ends the call with the error that made it retry instead.)
    """

    def __init__(self, wait: float, limit: float) -> None:
        super().__init__(
            f"the KMS request rate is limited after throttling: this call would wait "
            f"{wait:.3f} s, more than max_rate_wait={limit} s"
        )
        self.wait = wait


class DeadlineExceeded(AiokmsError, TimeoutError):
    """The call, with all its attempts and waits, took longer than ``call_timeout``."""

    def __init__(self, operation: str, seconds: float) -> None:
        super().__init__(f"{operation} did not complete within call_timeout={seconds} s")
        self.operation = operation


class ClientClosed(AiokmsError, RuntimeError):
    """The ``KMSClient`` was closed: before this call, or while it was under way.

    A call that was waiting (for a retry, a rate-limiter turn, a connection slot or credentials)
    when ``close()`` ran was stopped without sending anything more; one whose request was in
    flight lost its connection, so that request may or may not have reached KMS.
    """

    def __init__(self, during_call: bool = False) -> None:
        super().__init__(
            "this KMSClient was closed while the call was under way (a request already sent "
            "may or may not have reached KMS)"
            if during_call
            else "this KMSClient is closed"
        )


class WrongEventLoop(AiokmsError, RuntimeError):
    """The ``KMSClient`` was used from an event loop other than the one it belongs to.

    A client belongs to the event loop of its first call (or of ``async with``): its pooled
    connections live there. Make one client per event loop, such as ``async with
    aiokms.KMSClient(...)`` inside each ``asyncio.run()``. (A forked child process is the
    exception: there the client forgets its parent's loop and connections.)
    """

    def __init__(self, loop_closed: bool) -> None:
        state = "has been closed" if loop_closed else "is another one"
        super().__init__(
            f"this KMSClient belongs to the event loop it was first used on, which {state}: "
            "make one client per event loop (for example `async with aiokms.KMSClient(...)` "
            "inside each asyncio.run())"
        )


class InvalidMessageError(AiokmsError):
    """A message could not be decrypted: it is malformed, tampered with or not for this reader.

    Raised by ``Encryptor.decrypt`` and ``decrypt_stream`` for every failed check (format,
    key commitment, header tag, frame tags, signature, encryption context, trailing bytes, no
    encrypted data key this reader may use), with no cause attached. Every failure of
    authentication (commitment, tags, signature) and every malformed byte gets the same
    message, so that a caller (or an attacker probing with forged messages) learns nothing
    about which check failed. KMS errors from unwrapping a data key are raised as they are.

    Reasons read from the header's cleartext, which tell nothing the header itself does not,
    are added after a colon: a format version or algorithm suite that is not read (version 1,
    no key commitment, an unknown suite id), no encrypted data key under the reader's key ids
    (with the key ARNs the message has), a required encryption context pair missing or
    different (naming its key), a reader's limit (``max_frame_length``, ``max_body_length``).
    """

    def __init__(self, detail: str | None = None) -> None:
        message = "the message is not a valid, authentic message for this decryptor"
        super().__init__(f"{message}: {detail}" if detail else message)


class ClientExceptions:
    """``kms.exceptions``: one ``ClientError`` subclass per KMS error code, by name.

    Mirrors botocore's client exceptions: ``kms.exceptions.NotFoundException``,
    ``kms.exceptions.ClientError`` and ``kms.exceptions.from_code(code)``. Type checkers know
    the codes from ``KMSClient``'s (``aiokms._operations.KMSExceptions``).
    """

    ClientError = _boto.ClientError

    def __init__(self, codes: list[str]) -> None:
        self._by_code: dict[str, type[_boto.ClientError]] = {}
        for code in [*codes, THROTTLING_CODE]:
            cls = type(code, (_boto.ClientError,), {"__module__": "aiokms.errors"})
            self._by_code[code] = cls
            setattr(self, code, cls)

    def from_code(self, code: str) -> type[_boto.ClientError]:
        """The class for ``code``, or ``ClientError`` itself for unknown codes."""
        cls: type[_boto.ClientError] = self._by_code.get(code, _boto.ClientError)
        return cls

    def __repr__(self) -> str:
        return f"<ClientExceptions codes={len(self._by_code)}>"
