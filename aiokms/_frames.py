"""Errors that leave aiokms carry no secret in the local variables of their frames.

Error reporters (Sentry and others) record the local variables of every frame of a traceback.
Between a public method and the point an error was raised, those frames hold what aiokms
handles: credentials, signed headers, request bodies, data keys, plaintext. The public methods
catch what leaves them and pass it to :func:`forget_locals`, which clears the frames of
aiokms's own modules and of the libraries below them, in the error's causes and contexts too;
the method's own frame, still running, drops its secrets by name.

Only finished frames are cleared, and only those of the listed modules: the caller's code is
never touched (clearing a suspended frame would close its coroutine).
"""

from __future__ import annotations

import contextlib
from types import FrameType

__all__ = ["forget_locals"]

# aiokms's modules on a call's path (the CLI and the emulator are callers, never below one),
# and the libraries below them that see requests, credentials or keys.
_CLEARED_PACKAGES = frozenset({"aiohttp", "aiobotocore", "botocore"})
_CALLERS = ("aiokms.cli", "aiokms.emulator")


def forget_locals(error: BaseException) -> None:
    """Clear the local variables of the frames ``error`` passed through, and its causes' and
    contexts', in aiokms's modules and the libraries below them."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            _clear(tb.tb_frame)
            tb = tb.tb_next
        pending += (exc.__cause__, exc.__context__)


def _clear(frame: FrameType) -> None:
    module: str = frame.f_globals.get("__name__", "")
    package = module.partition(".")[0]
    if package in _CLEARED_PACKAGES or (package == "aiokms" and not module.startswith(_CALLERS)):
        with contextlib.suppress(RuntimeError):  # still running: the catching method's own
            frame.clear()
