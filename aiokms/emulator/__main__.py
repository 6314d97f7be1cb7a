"""``aiokms emulator`` (and ``python -m aiokms.emulator``): serve LocalKMS from the command line.

Every keyword argument of :class:`~aiokms.emulator.LocalKMS` is a flag. When the server is
listening, the command prints its endpoint URL and credentials, and with ``--tls`` the CA bundle
clients must trust (as ``export`` lines a shell can use, or one JSON object with ``--json``),
and then serves until SIGINT or SIGTERM, when it closes its connections, writes its state file
and exits 0. ``python -m aiokms.emulator`` fails as an argparse program does: 2 for a bad command
line (a flag's value LocalKMS refuses included), 1 for any other failure (the address cannot be
bound, the state file cannot be written); ``aiokms emulator`` with that command's codes, 252
and 255.

:func:`add_arguments` and :func:`run` let the ``aiokms`` command reuse the flags and the serving.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shlex
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from aiokms._argtypes import non_negative_float, positive_float, share
from aiokms._quotas import QUOTAS
from aiokms.emulator._server import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, LocalKMS

__all__ = [
    "FAULT_FLAGS",
    "QUOTA_FLAGS",
    "add_arguments",
    "add_fault_arguments",
    "add_quota_arguments",
    "build_parser",
    "emulator_kwargs",
    "main",
    "quota_kwargs",
    "quota_rate",
    "run",
    "serve",
]


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port number (0 to 65535)")
    return value


def _identity(text: str) -> tuple[str, tuple[str, str]]:
    """``ACCESS_KEY:SECRET:ARN`` for ``--identity``."""
    access_key, _, rest = text.partition(":")
    secret, _, arn = rest.partition(":")
    if not (access_key and secret and arn.startswith("arn:")):
        raise argparse.ArgumentTypeError(f"{text!r} is not ACCESS_KEY:SECRET:ARN")
    return access_key, (secret, arn)


def _identity_policy(text: str) -> tuple[str, list[Any]]:
    """``ACCESS_KEY=PATH`` for ``--identity-policy``: a JSON file holding one IAM policy
    document or a list of them."""
    access_key, _, path = text.partition("=")
    if not (access_key and path):
        raise argparse.ArgumentTypeError(f"{text!r} is not ACCESS_KEY=PATH")
    try:
        with open(path, encoding="utf-8") as file:
            documents = json.load(file)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{path}: not a readable JSON file ({exc})") from None
    if isinstance(documents, dict):
        documents = [documents]
    if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
        raise argparse.ArgumentTypeError(f"{path}: not a policy document or a list of them")
    return access_key, documents


def _identities(args: argparse.Namespace) -> dict[str, tuple[Any, ...]]:
    """``--identity`` flags with the IAM policies ``--identity-policy`` gives them."""
    identities: dict[str, tuple[Any, ...]] = dict(args.identities)
    policies: dict[str, list[Any]] = {}
    for access_key, documents in args.identity_policies:
        if access_key not in identities:
            raise ValueError(f"--identity-policy: {access_key!r} is not an --identity access key")
        policies.setdefault(access_key, []).extend(documents)
    for access_key, documents in policies.items():
        identities[access_key] = (*identities[access_key], documents)
    return identities


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's flags (one per LocalKMS argument) to ``parser``."""
    server = parser.add_argument_group("server")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    server.add_argument("--port", type=_port, default=0, help="port; 0 picks a free one (default)")
    server.add_argument("--region", default=DEFAULT_REGION, help="Region (%(default)s)")
    server.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID, help="account (%(default)s)")
    server.add_argument(
        "--state-file",
        metavar="PATH",
        help="keep keys, aliases and credentials in this JSON file across restarts "
        "(key material and the secret key in the clear: for tests only)",
    )
    server.add_argument(
        "--alias",
        dest="aliases",
        action="append",
        default=[],
        metavar="alias/NAME",
        help="have a symmetric key ready under this alias (repeatable)",
    )
    server.add_argument(
        "--also-region",
        dest="regions",
        action="append",
        default=[],
        metavar="REGION",
        help="also serve this Region at the same endpoint, with its own keys (repeatable)",
    )
    server.add_argument(
        "--reset-endpoint",
        action="store_true",
        help="serve POST /_localkms/reset (unsigned): forget every key and alias",
    )
    creds = parser.add_argument_group("credentials (generated when not given)")
    creds.add_argument("--access-key", help="access key id requests must be signed with")
    creds.add_argument("--secret-key", help="its secret access key")
    creds.add_argument("--session-token", help="session token requests must carry")
    creds.add_argument(
        "--identity",
        dest="identities",
        action="append",
        type=_identity,
        default=[],
        metavar="ACCESS_KEY:SECRET:ARN",
        help="another principal that may sign requests, such as "
        "AKIDALICE:secret:arn:aws:iam::111122223333:user/alice (arn:aws-cn:... for a principal "
        "of the China Regions' keys; repeatable)",
    )
    creds.add_argument(
        "--identity-policy",
        dest="identity_policies",
        action="append",
        type=_identity_policy,
        default=[],
        metavar="ACCESS_KEY=PATH",
        help="IAM policies of an --identity principal: a JSON file with one policy document "
        "or a list of them (repeatable). A principal without any is allowed everything by IAM",
    )
    creds.add_argument(
        "--no-authorize",
        dest="authorize",
        action="store_false",
        help="serve every correctly signed request: no key policy is enforced (load tests)",
    )
    add_quota_arguments(parser)
    add_fault_arguments(parser)
    server.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a certificate from a CA made at start; its bundle's path is "
        "printed as AWS_CA_BUNDLE",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--json", action="store_true", help="print the endpoint and credentials as one JSON line"
    )
    output.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="log to stderr, one line per request: operation, status (and error code), latency",
    )


# The fault injection flags, declared once: this command and ``aiokms bench --emulator`` (which
# passes them on to the emulator it starts) both add them with :func:`add_fault_arguments`.
# (dest, type, default, metavar, help)
_FAULTS: tuple[tuple[str, Any, Any, str | None, str], ...] = (
    ("latency", non_negative_float, 0.0, "SECONDS", "seconds added to replies"),
    ("jitter", non_negative_float, 0.0, "SECONDS", "up to this many more seconds, at random"),
    (
        "error_rate",
        share,
        0.0,
        "SHARE",
        "share (0-1) of requests answered KMSInternalException (HTTP 500)",
    ),
    (
        "drop_rate",
        share,
        0.0,
        "SHARE",
        "share (0-1) of requests whose connection is closed without a reply",
    ),
    (
        "slow_body",
        non_negative_float,
        0.0,
        "SECONDS",
        "trickle reply bodies over this many seconds after the headers",
    ),
    (
        "slow_body_rate",
        share,
        1.0,
        "SHARE",
        "share (0-1) of replies that are slow when --slow-body is set (default 1)",
    ),
    ("seed", int, None, None, "seed of the fault draws (reproducible runs)"),
)
FAULT_FLAGS = tuple(dest for dest, *_ in _FAULTS)
"""The ``dest`` names of the fault injection flags, in LocalKMS's argument order."""
QUOTA_FLAGS = ("rate_limit", "burst", "quotas", "quota")
"""The ``dest`` names of the quota flags."""


def add_fault_arguments(
    parser: argparse.ArgumentParser, title: str = "fault injection", *, defaults: bool = True
) -> None:
    """Add the fault injection flags (``--latency``, ``--error-rate``, ...) to ``parser``.

    Args:
        parser: the parser to add them to, in a group of their own.
        title: the group's title.
        defaults: give each flag LocalKMS's default; with False every flag defaults to None,
            so that a caller can tell which were given.
    """
    group = parser.add_argument_group(title)
    for dest, kind, default, metavar, text in _FAULTS:
        group.add_argument(
            f"--{dest.replace('_', '-')}",
            type=kind,
            default=default if defaults else None,
            metavar=metavar,
            help=text,
        )


def add_quota_arguments(
    parser: argparse.ArgumentParser,
    title: str = "quota (one of --rate-limit, --quotas, --quota; beyond it: ThrottlingException)",
) -> None:
    """Add the request quota flags (``--rate-limit``, ``--burst``, ``--quotas``, ``--quota``)."""
    group = parser.add_argument_group(title)
    which = group.add_mutually_exclusive_group()
    which.add_argument(
        "--rate-limit",
        type=positive_float,
        metavar="PER_SECOND",
        help="requests/s shared by the cryptographic operations",
    )
    group.add_argument(
        "--burst",
        type=positive_float,
        help="requests --rate-limit admits at once (default: 1 s worth)",
    )
    which.add_argument(
        "--quotas",
        type=positive_float,
        metavar="FACTOR",
        help="meter each operation against its KMS quota, at FACTOR times KMS's default "
        "rates in --region (1: KMS's own)",
    )
    which.add_argument(
        "--quota",
        dest="quota",
        action="append",
        type=quota_rate,
        metavar="NAME=PER_SECOND",
        help="meter this KMS quota at this rate, and no other quota (repeatable; names as "
        "in the README, such as 'DescribeKey=10' or "
        "'Cryptographic operations (symmetric)=400')",
    )


def quota_rate(text: str) -> tuple[str, float]:
    """``NAME=PER_SECOND`` for ``--quota``: a KMS quota name and a positive rate."""
    name, sep, rate = text.rpartition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=PER_SECOND")
    if name not in QUOTAS:
        raise argparse.ArgumentTypeError(f"{name!r} is not a KMS quota name")
    return name, positive_float(rate)


def quota_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """LocalKMS's quota keyword arguments (``rate_limit``, ``burst``, ``quotas``) from flags."""
    quotas: float | dict[str, float] | None = args.quotas
    if args.quota:
        quotas = dict(args.quota)
    return {"rate_limit": args.rate_limit, "burst": args.burst, "quotas": quotas}


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The emulator command's parser."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve a local KMS (LocalKMS) for tests and load tests: the KMS JSON "
        "protocol over HTTP (or HTTPS, --tls), with SigV4 checks, request quotas and fault "
        "injection.",
    )
    add_arguments(parser)
    return parser


def emulator_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """LocalKMS's keyword arguments from parsed flags."""
    return {
        "host": args.host,
        "port": args.port,
        "region": args.region,
        "account_id": args.account_id,
        "access_key": args.access_key,
        "secret_key": args.secret_key,
        "session_token": args.session_token,
        **quota_kwargs(args),
        "latency": args.latency,
        "jitter": args.jitter,
        "error_rate": args.error_rate,
        "drop_rate": args.drop_rate,
        "slow_body": args.slow_body,
        "slow_body_rate": args.slow_body_rate,
        "seed": args.seed,
        "state_file": args.state_file,
        "aliases": args.aliases,
        "reset_endpoint": args.reset_endpoint,
        "regions": args.regions,
        "identities": _identities(args),
        "authorize": args.authorize,
        "tls": args.tls,
    }


def _announce(local: LocalKMS, as_json: bool, out: TextIO) -> None:
    creds = local.credentials
    if as_json:
        doc = {
            "endpoint_url": local.endpoint_url,
            "region": local.region,
            "account_id": local.account_id,
            "access_key": creds.access_key,
            "secret_key": creds.secret_key,
            "session_token": creds.token,
            "ca_bundle": local.ca_bundle,
            "quota_rates": dict(local.quota_rates),
        }
        print(json.dumps(doc), file=out, flush=True)
        return
    lines = [
        f"# LocalKMS ready at {local.endpoint_url} (Region {local.region}, "
        f"account {local.account_id}); Ctrl-C stops it",
        f"export AWS_ENDPOINT_URL_KMS={local.endpoint_url}",
        f"export AWS_REGION={local.region}",
        f"export AWS_DEFAULT_REGION={local.region}",  # the AWS CLI v1, boto3 and botocore
        f"export AWS_ACCESS_KEY_ID={creds.access_key}",
        f"export AWS_SECRET_ACCESS_KEY={creds.secret_key}",
    ]
    if creds.token:
        lines.append(f"export AWS_SESSION_TOKEN={creds.token}")
    if local.ca_bundle is not None:
        lines.append(f"export AWS_CA_BUNDLE={shlex.quote(local.ca_bundle)}")
    print("\n".join(lines), file=out, flush=True)


async def serve(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run LocalKMS with the parsed flags until SIGINT or SIGTERM; return the exit status."""
    out = sys.stdout if out is None else out
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows; not main thread
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        async with LocalKMS(**emulator_kwargs(args)) as local:
            _announce(local, args.json, out)
            await stop.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
    return 0


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """The emulator command: parse ``argv`` (default ``sys.argv[1:]``), serve, return status."""
    parser = build_parser(prog)
    return run(parser.parse_args(argv), parser.prog)


def run(args: argparse.Namespace, prog: str, *, usage: int = 2, failure: int = 1) -> int:
    """Serve with the parsed flags until SIGINT or SIGTERM; return the exit status.

    Args:
        args: the flags, parsed by a parser :func:`add_arguments` made.
        prog: the command's name, put before messages.
        usage: the status when LocalKMS refuses a flag's value (argparse's 2 for a bad command
            line; ``aiokms emulator`` passes 252).
        failure: the status of any other failure, such as an address in use or a state file
            that cannot be written (1; ``aiokms emulator`` passes 255).
    """
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        return asyncio.run(serve(args))
    except KeyboardInterrupt:  # where signal handlers cannot be installed
        return 0
    except ValueError as exc:  # a knob out of range, or a file that is not a state file
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return usage
    except OSError as exc:
        if _about_state_file(exc, args.state_file):
            message = f"state file {args.state_file}: {exc.strerror or exc}"
        elif exc.filename is not None:
            message = f"{exc.filename}: {exc.strerror or exc}"
        else:  # a socket's error: the address cannot be bound
            message = f"cannot listen on {args.host}:{args.port}: {exc}"
        print(f"{prog}: error: {message}", file=sys.stderr)
        return failure


def _about_state_file(exc: OSError, state_file: str | None) -> bool:
    """Whether ``exc`` is about the state file: the file, or the temporary file beside it that
    it is written through."""
    if state_file is None or exc.filename is None:
        return False
    return Path(os.fsdecode(exc.filename)).parent == Path(state_file).parent


if __name__ == "__main__":
    sys.exit(main(prog="python -m aiokms.emulator"))
