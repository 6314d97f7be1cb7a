"""The one exception the emulator's pure layers raise: a KMS error reply waiting to be sent.

Every failure the emulator reports, from a bad signature to a wrong encryption context, is a
:class:`KMSError` carrying what goes on the wire: the ``__type`` code, the message and the HTTP
status. The server shell turns it into ``{"__type": code, "message": message}`` with that
status, which is the body shape KMS uses for its JSON protocol; botocore (and aiokms) read the
code from ``__type``. An empty message leaves the ``message`` member out, as KMS does for the
errors it words with no message (``InvalidCiphertextException``, ``KMSInvalidMacException``,
``KMSInvalidSignatureException``).
"""

from __future__ import annotations

__all__ = ["THROTTLED_MESSAGE", "KMSError", "internal_error", "throttled", "unsupported_operation"]


class KMSError(Exception):
    """A KMS error reply: ``code`` (the ``__type``), ``message`` and HTTP ``status``."""

    __slots__ = ("code", "message", "status")

    def __init__(self, code: str, message: str = "", status: int = 400) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"KMSError({self.code!r}, {self.message!r}, status={self.status})"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code


THROTTLED_MESSAGE = (
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
)


def throttled() -> KMSError:
    """What KMS answers when a request is over a request quota (Developer Guide, "Throttling
    AWS KMS requests": HTTP 400, this message)."""
    return KMSError("ThrottlingException", THROTTLED_MESSAGE)


def internal_error() -> KMSError:
    """The retryable server-side failure KMS reports with HTTP 500."""
    return KMSError(
        "KMSInternalException",
        "The request was rejected because an internal exception occurred. "
        "The request can be retried.",
        500,
    )


def unsupported_operation(operation: str) -> KMSError:
    """A KMS operation the emulator does not implement (a modeled error code, HTTP 400)."""
    return KMSError(
        "UnsupportedOperationException", f"LocalKMS does not implement the {operation} operation."
    )
