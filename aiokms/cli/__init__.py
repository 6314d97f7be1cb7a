"""The ``aiokms`` command: ``kms``, ``encrypt``, ``decrypt``, ``bench`` and ``emulator``.

How this works: ``main`` looks only at the first argument, the subcommand, and hands the rest to
that subcommand's module, which builds its own parser. So ``aiokms encrypt`` never pays for
building the 54 ``aiokms kms`` operation parsers, and each module imports what it needs (the
emulator, the encryptor, rich, matplotlib) only when it runs. Exit codes are the AWS CLI's
(see :mod:`aiokms.cli._common`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from aiokms.cli._common import FAILURE, OK, USAGE, Parser, silence_stdout

__all__ = ["main"]

# name -> (module, one-line summary); the order is the order of ``aiokms --help``
_COMMANDS: dict[str, tuple[str, str]] = {
    "encrypt": ("_crypt", "encrypt a file or stdin with KMS keys (AWS Encryption SDK format)"),
    "decrypt": ("_crypt", "decrypt what 'aiokms encrypt' or the AWS Encryption SDK wrote"),
    "kms": ("_kms", "call any KMS operation, as 'aws kms' does"),
    "bench": ("bench", "load-test KMS, an endpoint or the built-in emulator"),
    "emulator": ("_emulator", "serve a local KMS for tests and load tests"),
}

_EPILOG = """\
Try it without AWS: the emulator starts and stops with the command.
  aiokms bench --emulator --operation envelope-encrypt --duration 10

Against AWS (credentials and region as for the AWS CLI):
  aiokms kms describe-key --key-id alias/app
  aiokms encrypt --key-id alias/app --context tenant=a --input notes.txt --output notes.enc
  aiokms decrypt --key-id arn:aws:kms:...:key/... --input notes.enc --output -

Run 'aiokms COMMAND --help' for a command's options.
Exit codes, as the AWS CLI's: 0 ok, 252 bad arguments, 253 bad configuration,
254 the service returned an error, 255 other failures, 130 interrupted (Ctrl-C),
143 terminated (SIGTERM)."""


def _parser() -> Parser:
    from aiokms import __version__

    parser = Parser(
        prog="aiokms",
        usage="aiokms [-h] [--version] COMMAND [ARGS ...]",
        description="aiokms: a fast asyncio AWS KMS client, envelope encryption and a local KMS.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"aiokms {__version__}")
    commands = parser.add_argument_group("commands")
    for name, (_module, summary) in _COMMANDS.items():
        commands.add_argument(name, nargs="?", help=summary)  # listed for --help only
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aiokms`` command.

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, else the AWS CLI's codes (252 bad arguments, 253 bad
        configuration, 254 service error, 255 other failure, 130 interrupted, 143 terminated).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if not args or args[0] in ("-h", "--help", "help", "--version"):
            parser = _parser()
            if not args:
                parser.print_help(sys.stderr)
                return USAGE
            if args[0] == "help":
                parser.print_help()
                return OK
            parser.parse_args(args[:1])
            return OK
        command, rest = args[0], args[1:]
        if command not in _COMMANDS:
            choices = ", ".join(_COMMANDS)
            if command.startswith("-"):
                _parser().error(f"unrecognized option {command!r} (a command comes first)")
            _parser().error(f"invalid command {command!r} (choose from {choices})")
        module = importlib.import_module(f"aiokms.cli.{_COMMANDS[command][0]}")
        code: int = module.main(rest, prog=f"aiokms {command}", command=command)
        return code
    except SystemExit as exc:  # argparse's --help and errors
        return exc.code if isinstance(exc.code, int) else (OK if exc.code is None else USAGE)
    except BrokenPipeError:  # the reader of our output went away (``| head``)
        silence_stdout()
        return FAILURE
