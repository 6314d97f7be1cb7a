"""``aiokms encrypt`` and ``aiokms decrypt``: files or stdin/stdout, in bounded memory.

How this works: the input is read in 64 KiB chunks and fed to ``Encryptor.encrypt_stream`` or
``decrypt_stream``, whose output is written as it comes, so memory stays at about one chunk
plus one frame whatever the size of the file. Messages are the AWS Encryption SDK's format (v2,
committing suites), so the ESDK's own ``aws-encryption-cli`` decrypts what ``aiokms encrypt``
writes and ``aiokms decrypt`` reads what it writes.

An output file is written under a temporary name beside it and renamed into place only once the
whole message has been processed, so a failed or tampered decryption, or one stopped by Ctrl-C
or SIGTERM, leaves no plaintext behind. On stdout that cannot be taken back: the plaintext of
each frame is written once its tag is checked, and a failure at the end (truncation, signature)
exits non-zero after it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from aiokms.cli._common import (
    OK,
    USAGE,
    CommandError,
    Parser,
    add_connection_options,
    blocking,
    describe_error,
    make_client,
    parse_pair,
    positive_int,
    run,
)

__all__ = ["main"]

CHUNK_SIZE = 64 * 1024

_ENCRYPT_EPILOG = """\
examples:
  aiokms encrypt --key-id alias/app --context tenant=a --input notes.txt --output notes.enc
  tar c docs | aiokms encrypt --key-id alias/app --key-id arn:aws:kms:...:key/... > docs.enc

The message is the AWS Encryption SDK format (v2); 'aws-encryption-cli --decrypt' reads it."""

_DECRYPT_EPILOG = """\
examples:
  aiokms decrypt --key-id arn:aws:kms:eu-west-1:111122223333:key/... --input notes.enc \\
      --output notes.txt --context tenant=a
  aiokms decrypt --discovery --discovery-account 111122223333 < docs.enc | tar x

Key ids that are not key ARNs (aliases, key ids) are resolved to their key ARN first."""


def _algorithm_names() -> list[str]:
    from aiokms import Algorithm

    return [member.name for member in Algorithm]


def _parser(prog: str, command: str) -> Parser:
    encrypting = command == "encrypt"
    if encrypting:
        description = (
            "Encrypt a file or stdin under one or more KMS keys, in the AWS Encryption SDK "
            "message format. The first --key-id makes the data key; every other one wraps it "
            "too, so any of them can decrypt."
        )
    else:
        description = (
            "Decrypt a message written by 'aiokms encrypt' or any AWS Encryption SDK. Key "
            "commitment, the header, every frame and the signature are checked; an output file "
            "appears only if all of them pass."
        )
    parser = Parser(
        prog=prog,
        description=description,
        epilog=_ENCRYPT_EPILOG if encrypting else _DECRYPT_EPILOG,
    )
    parser.add_argument(
        "--key-id",
        "-k",
        dest="key_ids",
        action="append",
        metavar="KEY",
        required=encrypting,
        help="a KMS key: key id, key ARN, alias name or alias ARN (repeatable)"
        if encrypting
        else "a KMS key whose encrypted data key may be decrypted (repeatable)",
    )
    parser.add_argument(
        "--context",
        "--encryption-context",
        "-c",
        dest="context",
        action="append",
        type=parse_pair,
        default=[],
        metavar="KEY=VALUE",
        help="an encryption context pair (repeatable): bound to the message"
        if encrypting
        else "a pair the message's encryption context must contain (repeatable)",
    )
    parser.add_argument(
        "--input",
        "-i",
        default="-",
        metavar="FILE",
        help="the file to read; '-' or absent: stdin",
    )
    parser.add_argument(
        "--output",
        "-o",
        default="-",
        metavar="FILE",
        help="the file to write; '-' or absent: stdout",
    )
    if encrypting:
        names = _algorithm_names()
        parser.add_argument(
            "--algorithm",
            default=names[0],
            metavar="SUITE",
            help=f"the algorithm suite, by name or id: {' or '.join(names)} (0x0478, 0x0578; "
            "default: the first, unsigned)"
            if names
            else "the algorithm suite",
        )
        parser.add_argument(
            "--frame-length",
            type=positive_int,
            default=4096,
            metavar="BYTES",
            help="plaintext bytes per frame (default 4096)",
        )
    else:
        parser.add_argument(
            "--discovery",
            action="store_true",
            help="also try encrypted data keys of KMS keys not given with --key-id, in the "
            "accounts given with --discovery-account",
        )
        parser.add_argument(
            "--discovery-account",
            dest="discovery_accounts",
            action="append",
            metavar="ACCOUNT",
            help="an AWS account id whose KMS keys discovery trusts (repeatable)",
        )
        parser.add_argument(
            "--discovery-partition",
            default="aws",
            metavar="PARTITION",
            help="the partition discovery trusts (default: aws)",
        )
        parser.add_argument(
            "--max-encrypted-data-keys",
            type=positive_int,
            default=10,
            metavar="N",
            help="refuse messages with more encrypted data keys than this (default 10)",
        )
    add_connection_options(parser)
    return parser


def _algorithm(text: str) -> str | int:
    """A suite name as given, or a suite id given in hex (``0x0578``)."""
    if text.lower().startswith("0x"):
        try:
            return int(text, 16)
        except ValueError:
            pass
    return text


def _context(pairs: list[tuple[str, str]], parser: Parser) -> dict[str, str]:
    context: dict[str, str] = {}
    for key, value in pairs:
        if key in context and context[key] != value:
            parser.error(f"--context: {key!r} is given twice with different values")
        context[key] = value
    return context


def _open_input(name: str, parser: Parser) -> IO[bytes]:
    if name == "-":
        return sys.stdin.buffer
    try:
        return open(name, "rb")
    except OSError as exc:
        parser.error(f"--input: cannot open {name!r}: {exc.strerror}")


def _chunks(source: IO[bytes]) -> Iterator[bytes]:
    while chunk := blocking(source.read, CHUNK_SIZE):
        yield chunk


class _Output:
    """Where the output goes: stdout, or a temporary file renamed into place on success."""

    __slots__ = ("_file", "_path", "_private", "_tmp", "written")

    def __init__(self, name: str, parser: Parser, *, private: bool) -> None:
        self._path: Path | None = None if name == "-" else Path(name)
        self._tmp: str | None = None
        self._private = private
        self.written = 0
        if self._path is None:
            self._file: IO[bytes] = sys.stdout.buffer
            return
        if self._path.is_dir():
            parser.error(f"--output: {name!r} is a directory")
        directory = self._path.parent
        try:
            fd, self._tmp = tempfile.mkstemp(
                dir=directory, prefix=f".{self._path.name}.", suffix=".partial"
            )
        except OSError as exc:
            parser.error(f"--output: cannot write in {str(directory)!r}: {exc.strerror}")
        self._file = os.fdopen(fd, "wb")

    @property
    def is_file(self) -> bool:
        """Whether the output is a file (else stdout)."""
        return self._path is not None

    def write(self, data: bytes) -> None:
        """Write ``data`` (to the temporary file, for a file output)."""
        self._file.write(data)
        self.written += len(data)

    def commit(self) -> None:
        """Flush; for a file, give it its permissions and move it into place."""
        self._file.flush()
        if self._path is None or self._tmp is None:
            return
        self._file.close()
        if not self._private:  # a message is not secret: the usual permissions
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self._tmp, 0o666 & ~umask)
        os.replace(self._tmp, self._path)
        self._tmp = None

    def discard(self) -> None:
        """Remove the temporary file, if any (stdout cannot be taken back)."""
        if self._tmp is None:
            with contextlib.suppress(OSError):
                self._file.flush()
            return
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            os.unlink(self._tmp)
        self._tmp = None


def _encryptor_class() -> Any:
    """The Encryptor class (imported when a command needs it)."""
    from aiokms import Encryptor

    return Encryptor


def main(argv: Sequence[str], *, prog: str = "aiokms encrypt", command: str = "encrypt") -> int:
    """Run ``aiokms encrypt`` or ``aiokms decrypt`` (``command``); returns the exit code."""
    parser = _parser(prog, command)
    try:
        args = parser.parse_args(list(argv))
        context = _context(args.context, parser)
        encrypting = command == "encrypt"
        if not encrypting:
            _check_decrypt_args(args, parser)
        source = _open_input(args.input, parser)
        output = _Output(args.output, parser, private=not encrypting)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE

    async def go() -> int:
        try:
            encryptor_class = _encryptor_class()
            async with make_client(args) as kms:
                if encrypting:
                    try:
                        encryptor = encryptor_class(
                            kms,
                            args.key_ids,
                            algorithm=_algorithm(args.algorithm),
                            frame_length=args.frame_length,
                        )
                    except (TypeError, ValueError) as exc:
                        raise CommandError(str(exc), USAGE) from None
                    stream = encryptor.encrypt_stream(
                        _chunks(source), encryption_context=context or None
                    )
                else:
                    try:
                        # key ids that are not key ARNs: the encryptor resolves them
                        encryptor = encryptor_class(
                            kms,
                            list(dict.fromkeys(args.key_ids or [])),
                            discovery=args.discovery,
                            discovery_accounts=args.discovery_accounts,
                            discovery_partition=args.discovery_partition,
                            max_encrypted_data_keys=args.max_encrypted_data_keys,
                        )
                    except (TypeError, ValueError) as exc:
                        raise CommandError(str(exc), USAGE) from None
                    stream = encryptor.decrypt_stream(
                        _chunks(source), encryption_context=context or None
                    )
                async for piece in stream:
                    output.write(piece)
                output.commit()
        except Exception as exc:
            output.discard()
            if not output.written or output.is_file:
                raise
            message, code = describe_error(exc)
            raise CommandError(
                f"{message} (the {output.written} bytes already written to stdout are "
                "incomplete: discard them)",
                code,
            ) from None
        except BaseException:
            output.discard()
            raise
        finally:
            if source is not sys.stdin.buffer:
                source.close()
        return OK

    return run(prog, go)


def _check_decrypt_args(args: argparse.Namespace, parser: Parser) -> None:
    if args.discovery_accounts and not args.discovery:
        parser.error("--discovery-account needs --discovery")
    if args.discovery and not args.discovery_accounts:
        parser.error("--discovery needs at least one --discovery-account")
    if not args.key_ids and not args.discovery:
        parser.error("give --key-id (repeatable), or --discovery with --discovery-account")
