"""What every subcommand shares: exit codes, the argument parser, connection options, errors.

Exit codes follow the AWS CLI's (version 2), so scripts written for ``aws`` read ours the same
way: 0 success, 252 bad command line, 253 bad environment or configuration (no region, no
credentials, unknown profile, a missing optional dependency), 254 the service answered with an
error, 255 any other failure, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

SIGTERM, what ``timeout``, ``kill`` and service managers send, cancels the command's main task
as Ctrl-C does, so the clean-up a command does on its way out runs (an unfinished output file is
removed, an emulator child stopped), and the command exits 143, the code of a process the signal
ended. (``aiokms bench`` takes Ctrl-C during its load as a request for the report; SIGTERM is
not.) A call that holds the event loop, such as a read of a stalled stdin, would hold the
cancellation back: inside :func:`blocking` SIGTERM raises it at once. A second SIGTERM ends
the command as if it were not handled.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import traceback
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, NoReturn, TypeVar

from botocore import exceptions as boto

from aiokms._argtypes import non_negative_float, positive_float, positive_int, share

if TYPE_CHECKING:
    from aiokms import KMSClient

__all__ = [
    "CONFIG",
    "FAILURE",
    "INTERRUPTED",
    "OK",
    "SERVICE_ERROR",
    "TERMINATED",
    "USAGE",
    "CommandError",
    "Parser",
    "add_connection_options",
    "add_tls_options",
    "blocking",
    "describe_error",
    "make_client",
    "non_negative_float",
    "parse_pair",
    "positive_float",
    "positive_int",
    "run",
    "share",
    "silence_stdout",
]

OK = 0
USAGE = 252
CONFIG = 253
SERVICE_ERROR = 254
FAILURE = 255
INTERRUPTED = 130
TERMINATED = 143  # 128 + 15: what a shell reports for a process SIGTERM ended

_T = TypeVar("_T")

_NO_REGION = (
    "You must specify a region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or set "
    "a region in the profile."
)
_NO_CREDENTIALS = (
    "Unable to locate credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
    "configure a profile (--profile)."
)


class CommandError(Exception):
    """A failure the command reports as one line on stderr, with its exit code."""

    def __init__(self, message: str, code: int = FAILURE) -> None:
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors exit with the AWS CLI's code for bad arguments."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        """Print the usage and ``message`` to stderr and exit with code 252."""
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def parse_pair(text: str) -> tuple[str, str]:
    """An argparse type: ``key=value`` (the value may contain ``=``; the key may not be empty)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not of the form key=value")
    return key, value


def add_connection_options(parser: argparse.ArgumentParser, *, default: object = None) -> None:
    """``--endpoint-url``, ``--region`` and ``--profile``, as the AWS CLI has them."""
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--endpoint-url",
        default=default,
        metavar="URL",
        help="the KMS endpoint (default: AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL, the profile, "
        "then the region's public endpoint)",
    )
    group.add_argument(
        "--region",
        default=default,
        help="the AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile)",
    )
    group.add_argument(
        "--profile",
        default=default,
        help="the shared config profile for region, endpoint and credentials",
    )
    add_tls_options(group, default=default)


def add_tls_options(group: argparse._ActionsContainer, *, default: object = None) -> None:
    """``--ca-bundle`` and ``--no-verify-ssl``, as the AWS CLI has them."""
    group.add_argument(
        "--ca-bundle",
        default=default,
        metavar="PATH",
        help="trust the CAs of this PEM bundle for the endpoint's certificate (default: "
        "AWS_CA_BUNDLE, the profile's ca_bundle, the system's CAs)",
    )
    group.add_argument(
        "--no-verify-ssl",
        action="store_true",
        default=default if default is not None else False,
        help="do not verify the endpoint's TLS certificate",
    )


def make_client(args: argparse.Namespace, **kwargs: object) -> KMSClient:
    """A ``KMSClient`` from the connection options (and any other constructor arguments).

    Raises:
        CommandError: no region, an unknown profile or an invalid setting.
    """
    from aiokms import KMSClient

    if getattr(args, "no_verify_ssl", False):  # wins over a bundle, as in the AWS CLI
        kwargs["verify"] = False
    elif getattr(args, "ca_bundle", None):
        kwargs["verify"] = _loadable(args.ca_bundle)
    try:
        return KMSClient(
            region_name=getattr(args, "region", None),
            endpoint_url=getattr(args, "endpoint_url", None),
            profile_name=getattr(args, "profile", None),
            **kwargs,  # type: ignore[arg-type]
        )
    except (boto.NoRegionError, boto.ProfileNotFound, boto.ConfigParseError) as exc:
        raise CommandError(_message(exc), CONFIG) from None
    except ValueError as exc:
        raise CommandError(str(exc), USAGE) from None


def _loadable(ca_bundle: str) -> str:
    """``--ca-bundle``'s path, once it is known to load (a configuration error otherwise).

    A directory of hashed certificates is passed on as it is: the client reads it as OpenSSL's
    ``capath``, a certificate at a time as they are needed, so there is nothing to load now.
    """
    import ssl

    path = os.path.expanduser(ca_bundle)
    if os.path.isdir(path):
        return path
    try:
        ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise CommandError(f"--ca-bundle: cannot load {ca_bundle}: {exc}", CONFIG) from None
    return path


def describe_error(exc: BaseException) -> tuple[str, int]:
    """The message and exit code for an exception that ends a command."""
    from aiokms.errors import AiokmsError

    if isinstance(exc, CommandError):
        return str(exc), exc.code
    if isinstance(exc, boto.ClientError):
        return str(exc), SERVICE_ERROR
    if isinstance(exc, boto.ParamValidationError):
        return str(exc), USAGE
    if isinstance(
        exc,
        (
            boto.NoRegionError,
            boto.NoCredentialsError,
            boto.PartialCredentialsError,
            boto.ProfileNotFound,
            boto.ConfigParseError,
        ),
    ):
        return _message(exc), CONFIG
    if isinstance(exc, (AiokmsError, boto.BotoCoreError)):
        return str(exc), FAILURE
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), FAILURE
    return f"{type(exc).__name__}: {exc}", FAILURE


def _expected(exc: BaseException) -> bool:
    from aiokms.errors import AiokmsError

    return isinstance(
        exc, (CommandError, boto.ClientError, boto.BotoCoreError, AiokmsError, OSError)
    )


def _message(exc: BaseException) -> str:
    if isinstance(exc, boto.NoRegionError):
        return _NO_REGION
    if isinstance(exc, boto.NoCredentialsError):
        return _NO_CREDENTIALS
    return str(exc)


def run(
    prog: str,
    main: Callable[[], Coroutine[Any, Any, int]],
    *,
    stderr: IO[str] | None = None,
    service_error_prefix: str | None = None,
    runner: Callable[[Coroutine[Any, Any, int]], int] = asyncio.run,
) -> int:
    """Run ``main()`` in a new event loop and turn what it raises into a message and exit code.

    Args:
        prog: the command's name, put before messages (``aiokms encrypt: ...``).
        main: the command's coroutine function; returns the exit code.
        stderr: where messages go (``sys.stderr``).
        service_error_prefix: printed before service and parameter errors instead of
            ``prog: ``; ``aiokms kms`` prints a blank line there, as ``aws`` does.
        runner: what runs the coroutine in a new event loop (``asyncio.run``; ``uvloop.run``).
    """
    err = stderr or sys.stderr
    try:
        return runner(_cancelled_by_sigterm(main))
    except asyncio.CancelledError:
        if not _sigterm.requested:
            raise
        err.write(f"{prog}: terminated\n")
        return TERMINATED
    except KeyboardInterrupt:
        err.write(f"\n{prog}: interrupted\n")
        return INTERRUPTED
    except BrokenPipeError:
        silence_stdout()
        return FAILURE
    except Exception as exc:
        message, code = describe_error(exc)
        if not _expected(exc):  # a bug: show where
            traceback.print_exc(file=err)
        prefix = f"{prog}: "
        if service_error_prefix is not None and isinstance(
            exc, (boto.ClientError, boto.ParamValidationError)
        ):
            prefix = service_error_prefix
        err.write(f"{prefix}{message}\n")
        err.flush()
        return code


class _Sigterm:
    """Whether a SIGTERM came during the command, and whether the command is in
    :func:`blocking`, where the handler raises the cancellation itself."""

    __slots__ = ("blocked", "requested")

    def __init__(self) -> None:
        self.blocked = False
        self.requested = False


_sigterm = _Sigterm()


async def _cancelled_by_sigterm(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """``main()``, run as the main task, which SIGTERM cancels (see the module docstring).

    The handler is Python's, not the event loop's: it runs even while a blocking call holds the
    loop, so that :func:`blocking` can raise at once.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    previous = signal.getsignal(signal.SIGTERM)
    if previous is None:  # set outside Python: all the same, the default is what it did
        previous = signal.SIG_DFL

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, previous)  # a second SIGTERM ends the command
        _sigterm.requested = True
        if _sigterm.blocked:
            raise asyncio.CancelledError
        loop.call_soon_threadsafe(task.cancel)

    _sigterm.requested = False
    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread: SIGTERM is not the command's to handle
        return await main()
    try:
        return await main()
    finally:
        signal.signal(signal.SIGTERM, previous)


def blocking(call: Callable[..., _T], *args: Any) -> _T:
    """``call(*args)``: a call that holds the event loop (a read of stdin), which SIGTERM ends.

    The loop cannot cancel the command while such a call waits (for a writer that never writes,
    perhaps), so inside it SIGTERM raises the cancellation at once.

    Raises:
        asyncio.CancelledError: SIGTERM came, before the call or during it.
    """
    _sigterm.blocked = True
    try:
        if _sigterm.requested:
            raise asyncio.CancelledError
        return call(*args)
    finally:
        _sigterm.blocked = False


def silence_stdout() -> None:
    """Point stdout at /dev/null: its reader went away, and the final flush must stay quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
