"""What the client and the cache tell of their work: log records (this module's helpers).

Loggers: ``aiokms.client`` (attempts retried, DEBUG; a call failed for want of retry quota,
WARNING), ``aiokms.ratelimit`` (an adaptive limiter switched on or off, INFO), ``aiokms.cache``
(a data key fetched ahead was not made, INFO), ``aiokms.emulator`` (LocalKMS). A record names
an operation, an error code or an exception's class, numbers; never a credential, a request
or reply body, a plaintext or a data key, nor an error's message (KMS's messages may quote
what was sent). Each is formatted only if its level is enabled: the hot path has none.
"""

from __future__ import annotations

__all__ = ["error_code"]


def error_code(error: BaseException) -> str:
    """A service error's code (``ThrottlingException``), else the exception's class name."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(error).__name__
