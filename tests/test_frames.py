"""Clearing the frames an error passed through (``aiokms._frames``), and only those it may.

The functions below stand for code of different modules: each is compiled with the module name
it stands for in its globals (``__name__``), which is all ``forget_locals`` looks at.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any

from aiokms._frames import forget_locals

SECRET = "s3cr3t-value-in-a-local"


def in_module(module: str, source: str, name: str) -> Callable[..., Any]:
    """The function ``name`` of ``source``, as if defined in module ``module``."""
    namespace: dict[str, Any] = {"__name__": module}
    exec(compile(source, f"<{module}>", "exec"), namespace)
    function: Callable[..., Any] = namespace[name]
    return function


RAISE = """
def fail(secret):
    kept = secret * 2
    raise ValueError("failed")
"""

CALL = """
def call(inner, secret):
    here = secret
    return inner(secret)
"""


def caught(function: Callable[..., Any], *args: Any) -> BaseException:
    try:
        function(*args)
    except BaseException as error:
        return error
    raise AssertionError("it did not raise")


def frames_of(error: BaseException) -> dict[str, FrameType]:
    """The frames of the error's traceback, by module name (the test's own left out)."""
    frames: dict[str, FrameType] = {}
    tb = error.__traceback__
    while tb is not None:
        frames[tb.tb_frame.f_globals["__name__"]] = tb.tb_frame
        tb = tb.tb_next
    return frames


def locals_shown(error: BaseException, module: str) -> str:
    """What an error reporter records of the locals of ``module``'s frames."""
    shown = traceback.TracebackException(
        type(error), error, error.__traceback__, capture_locals=True
    )
    return repr([frame.locals for frame in shown.stack if frame.filename == f"<{module}>"])


def test_the_frames_of_aiokms_and_the_libraries_below_it_are_cleared() -> None:
    for module in ("aiokms._client", "aiokms._cache.cache", "aiohttp.client", "botocore.auth"):
        error = caught(in_module(module, RAISE, "fail"), SECRET)
        assert SECRET in locals_shown(error, module)
        forget_locals(error)
        assert SECRET not in locals_shown(error, module)
        assert frames_of(error)[module].f_locals == {}


def test_the_callers_frames_keep_their_locals() -> None:
    """The caller's code, the CLI and the emulator are callers: their frames are left alone."""
    for module in ("myapp.handlers", "aiokms.cli._crypt", "aiokms.emulator._server"):
        inner = in_module("aiokms._encryptor", RAISE, "fail")
        error = caught(in_module(module, CALL, "call"), inner, SECRET)
        forget_locals(error)
        frames = frames_of(error)
        assert frames[module].f_locals["here"] == SECRET, module
        assert frames["aiokms._encryptor"].f_locals == {}


def test_causes_and_contexts_are_cleared_too() -> None:
    fail = in_module("aiokms._transport", RAISE, "fail")
    source = """
def wrap(fail, secret):
    try:
        fail(secret)
    except ValueError as error:
        raise RuntimeError("wrapped") from error
"""
    error = caught(in_module("aiokms._client", source, "wrap"), fail, SECRET)
    assert error.__cause__ is not None
    forget_locals(error)
    assert frames_of(error)["aiokms._client"].f_locals == {}
    assert frames_of(error.__cause__)["aiokms._transport"].f_locals == {}


def test_a_running_frame_is_left_running() -> None:
    """The method that catches an error is still running: its frame cannot be cleared, and
    the call to forget_locals must not fail on it."""
    fail = in_module("aiokms._message.body", RAISE, "fail")
    source = """
def catch(fail, forget, secret):
    try:
        fail(secret)
    except ValueError as error:
        forget(error)
        return error, secret
"""
    error, secret = in_module("aiokms._encryptor", source, "catch")(fail, forget_locals, SECRET)
    assert secret == SECRET  # the catching frame went on with its locals
    assert frames_of(error)["aiokms._message.body"].f_locals == {}


def test_an_error_seen_twice_in_its_own_chain_is_cleared_once() -> None:
    error = caught(in_module("aiokms._client", RAISE, "fail"), SECRET)
    error.__context__ = error  # a cycle, as re-raising in a handler can make
    forget_locals(error)
    assert frames_of(error)["aiokms._client"].f_locals == {}
