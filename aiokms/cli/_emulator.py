"""``aiokms emulator``: the local KMS, served from the command line.

The flags and the serving loop are the emulator's own (``aiokms.emulator.__main__``): this
module parses the command line with the ``aiokms`` parser and runs the emulator with the
``aiokms`` exit codes, so a bad flag, or a value LocalKMS refuses, exits 252 and any other
failure 255, like every other subcommand.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokms.cli._common import FAILURE, USAGE, Parser

__all__ = ["main"]

_EPILOG = """\
examples:
  aiokms emulator --port 4599 --alias alias/app         # prints export lines, then serves
  aiokms emulator --rate-limit 100 --latency 0.005 --error-rate 0.01 --json
  aiokms emulator --quotas 0.01                   # KMS's quotas per operation, a hundredth
  aiokms emulator --quota DescribeKey=10 --quota 'Cryptographic operations (symmetric)=400'

Point any AWS SDK or CLI at it with the printed AWS_ENDPOINT_URL_KMS and credentials.
Ctrl-C (or SIGTERM) stops it."""


def main(argv: Sequence[str], *, prog: str = "aiokms emulator", command: str = "emulator") -> int:
    """Run ``aiokms emulator`` with ``argv``; returns the exit code."""
    from aiokms.emulator import __main__ as emulator_cli

    parser = Parser(
        prog=prog,
        description="Serve a local KMS for tests and load tests: the KMS JSON protocol over "
        "HTTP on 127.0.0.1,\nwith SigV4 checks, request quotas and fault injection. It prints "
        "its endpoint URL and\ncredentials when it is ready.",
        epilog=_EPILOG,
    )
    emulator_cli.add_arguments(parser)
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE
    code: int = emulator_cli.run(args, prog, usage=USAGE, failure=FAILURE)
    return code
