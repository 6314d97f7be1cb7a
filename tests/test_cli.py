"""The ``aiokms`` command, end to end: against moto's server and the emulator, on 127.0.0.1.

Most tests run the command in a subprocess (``python -m aiokms.cli``, what the ``aiokms``
script runs), as a user would; the many small cases of argument handling call
:func:`aiokms.cli.main` in-process, which is the same code without the interpreter start-up.

Third-party truth: moto serves KMS; the ``aws_encryption_sdk`` package and the ESDK's own
``aws-encryption-cli`` (in a virtualenv of its own, see ``tests/esdk_cli.py``) read what
``aiokms encrypt`` writes and write what ``aiokms decrypt`` reads.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import contextlib
import datetime
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from aiokms import cli
from aiokms._quotas import default_rates
from aiokms.cli import _kms
from aiokms.emulator import LocalKMS
from tests.esdk_cli import esdk_cli
from tests.fake_kms import ThreadedKMS
from tests.helpers import until
from tests.tls import TestCA

REGION = "us-east-1"
COMMAND = [sys.executable, "-m", "aiokms.cli"]
ISO_8601 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)$"


# --- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def moto_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a command that talks to moto (set in-process too)."""
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL_KMS": moto_url,
        "AWS_MAX_ATTEMPTS": "1",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)


def aiokms(
    *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run the ``aiokms`` command in a subprocess."""
    return subprocess.run(
        [*COMMAND, *args],
        input=stdin,
        capture_output=True,
        env=env if env is not None else dict(os.environ),
        timeout=120,
        check=False,
    )


def ok_json(result: subprocess.CompletedProcess[bytes]) -> Any:
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``aiokms.cli.main`` in-process; returns (exit code, stdout, stderr)."""
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def create_key(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    code, out, err = run_main(capsys, "kms", "create-key", *extra)
    assert code == 0, err
    metadata: dict[str, Any] = json.loads(out)["KeyMetadata"]
    return metadata


# --- the command and its help -----------------------------------------------------------------


def test_console_script_is_declared() -> None:
    scripts = importlib.metadata.entry_points(group="console_scripts")
    assert [e.value for e in scripts if e.name == "aiokms"] == ["aiokms.cli:main"]


def test_no_arguments_prints_usage_and_exits_252() -> None:
    result = aiokms()
    assert result.returncode == 252
    assert b"usage: aiokms" in result.stderr
    for name in (b"encrypt", b"decrypt", b"kms", b"bench", b"emulator"):
        assert name in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        "--help",
        "kms --help",
        "kms encrypt --help",
        "encrypt --help",
        "decrypt --help",
        "bench --help",
        "emulator --help",
    ],
)
def test_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run_main(capsys, *command.split())
    assert code == 0
    assert out.startswith("usage: aiokms")
    assert "examples:" in out or "commands:" in out or "parameters:" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "--version")
    assert code == 0 and out.startswith("aiokms ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["frob"], "invalid command 'frob'"),
        (["--frob"], "unrecognized option '--frob'"),
        (["kms", "frob"], "invalid choice: 'frob'"),
        (["kms", "describe-key"], "the following arguments are required: --key-id"),
        (["kms", "describe-key", "--key-id", "k", "--bogus"], "unrecognized arguments: --bogus"),
        (["kms", "encrypt", "--key-id", "k", "--plaintext", "!!"], "Invalid base64"),
        (
            ["kms", "encrypt", "--key-id", "k", "--plaintext", "fileb:///nonexistent"],
            "Unable to load paramfile fileb:///nonexistent",
        ),
        (["kms", "generate-random", "--number-of-bytes", "many"], "invalid literal for int()"),
        (
            [
                "kms",
                "encrypt",
                "--key-id",
                "k",
                "--plaintext",
                "aGk=",
                "--encryption-context",
                "novalue",
            ],
            "Expected: '=', received: 'EOF' for input:",
        ),
        (["kms", "create-key", "--tags", "TagKey=a,Nope=b"], "unknown key 'Nope'"),
        (["kms", "create-key", "--tags", '[{"TagKey": "a"'], "Invalid JSON"),
        (["kms", "describe-key", "--cli-input-json", "[1]"], "expected a JSON object"),
        (["kms", "list-keys", "--no-paginate", "--max-items", "2"], "cannot be used with"),
        (["encrypt"], "the following arguments are required: --key-id"),
        (["encrypt", "--key-id", "k", "--context", "novalue"], "is not of the form key=value"),
        (["encrypt", "--key-id", "k", "--context", "a=1", "--context", "a=2"], "given twice"),
        (["encrypt", "--key-id", "k", "--input", "/nonexistent/file"], "cannot open"),
        (["encrypt", "--key-id", "k", "--frame-length", "0"], "must be at least 1"),
        (["decrypt"], "give --key-id"),
        (["decrypt", "--discovery"], "--discovery needs at least one --discovery-account"),
        (["bench", "--concurrency", "0"], "must be at least 1"),
        (["bench", "--operation", "frob"], "invalid choice: 'frob'"),
        (["bench", "--endpoint-url", "http://127.0.0.1:1"], "--key-id is required"),
        (["bench", "--latency", "0.1"], "--latency only applies with --emulator"),
        (["bench", "--quotas", "0.01"], "--quotas only applies with --emulator"),
        (["bench", "--slow-body", "1", "--seed", "3"], "--slow-body, --seed only apply with"),
        (["bench", "--emulator", "--quota", "Nope=1"], "'Nope' is not a KMS quota name"),
        (["bench", "--emulator", "--quota", "DescribeKey"], "is not NAME=PER_SECOND"),
        (["bench", "--emulator", "--rate-limit", "9", "--quotas", "1"], "not allowed with"),
        (["emulator", "--quotas", "1", "--quota", "DescribeKey=2"], "not allowed with"),
        (["emulator", "--quota", "DescribeKey=0"], "must be above 0"),
        (["emulator", "--quotas", "1", "--burst", "5"], "give quotas, or rate_limit and burst"),
        (["bench", "--emulator", "--error-rate", "2"], "must be between 0 and 1"),
        (["bench", "--emulator", "--endpoint-url", "http://x"], "not allowed with argument"),
        (
            ["bench", "--emulator", "--operation", "encrypt", "--payload-size", "5000"],
            "takes at most 4096 bytes",
        ),
        (["bench", "--emulator", "--plot", "out.txt"], "is not a .png file name"),
        (["bench", "--emulator", "--duration", "-1"], "must be above 0"),
        (["bench", "--emulator", "--duration", "1x"], "'1x' is not a length of time"),
        (["bench", "--emulator", "-d", "10s", "--ramp-up", "10"], "must be shorter than"),
        (["bench", "--emulator", "--max-error-rate", "2"], "must be between 0 and 1"),
        (["bench", "--emulator", "--max-p99", "0"], "must be above 0"),
        (["emulator", "--port", "70000"], "is not a port number"),
    ],
)
def test_bad_arguments_exit_252_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run_main(capsys, *args)
    assert code == 252, err
    assert message in err
    assert out == ""


# --- aiokms kms -------------------------------------------------------------------------------


def test_every_operation_and_member_has_the_aws_cli_name() -> None:
    parser = _kms._build_parser("aiokms kms")
    subparsers = next(a for a in parser._actions if a.dest == "_command")
    service = botocore.session.get_session().get_service_model("kms")
    assert len(service.operation_names) == 54
    for name in service.operation_names:
        sub = subparsers.choices[xform_name(name, "-")]  # type: ignore[index]
        flags = {s for a in sub._actions for s in a.option_strings}
        shape = service.operation_model(name).input_shape
        for member, member_shape in shape.members.items() if shape else []:
            flag = "--" + xform_name(member, "-")
            assert flag in flags, (name, member)
            if member_shape.type_name == "boolean":
                assert "--no-" + xform_name(member, "-") in flags
        assert {"--cli-input-json", "--endpoint-url", "--region", "--profile"} <= flags


def test_kms_round_trip_in_a_subprocess(moto_env: dict[str, str], tmp_path: Path) -> None:
    created = ok_json(aiokms("kms", "create-key", "--description", "cli test", env=moto_env))
    arn = created["KeyMetadata"]["Arn"]
    assert "ResponseMetadata" not in created
    (tmp_path / "secret.bin").write_bytes(b"\x00\xffsecret\r\n")
    encrypted = ok_json(
        aiokms(
            "kms",
            "encrypt",
            "--key-id",
            arn,
            "--plaintext",
            f"fileb://{tmp_path}/secret.bin",
            "--encryption-context",
            "tenant=a,purpose=test",
            env=moto_env,
        )
    )
    assert encrypted["KeyId"] == arn
    (tmp_path / "blob").write_bytes(base64.b64decode(encrypted["CiphertextBlob"]))
    decrypted = ok_json(
        aiokms(
            "kms",
            "decrypt",
            "--ciphertext-blob",
            f"fileb://{tmp_path}/blob",
            "--encryption-context",
            '{"tenant": "a", "purpose": "test"}',
            env=moto_env,
        )
    )
    assert base64.b64decode(decrypted["Plaintext"]) == b"\x00\xffsecret\r\n"


def test_kms_service_error_exits_254_with_the_code_on_stderr(moto_env: dict[str, str]) -> None:
    result = aiokms("kms", "describe-key", "--key-id", "alias/missing", env=moto_env)
    assert result.returncode == 254
    assert result.stdout == b""
    assert (  # its one attempt (AWS_MAX_ATTEMPTS=1) was its last, as botocore's message says
        b"An error occurred (NotFoundException) when calling the DescribeKey operation "
        b"(reached max retries: 0): " in result.stderr
    )


def test_kms_output_is_the_aws_cli_json(
    moto_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    metadata = create_key(capsys, "--description", "json", "--tags", "TagKey=team,TagValue=a")
    assert isinstance(metadata["CreationDate"], str)

    assert re.match(ISO_8601, metadata["CreationDate"]), metadata["CreationDate"]
    code, out, _ = run_main(capsys, "kms", "generate-random", "--number-of-bytes", "16")
    assert code == 0
    assert out.startswith('{\n    "Plaintext": "')  # indented by 4, as aws prints it
    assert len(base64.b64decode(json.loads(out)["Plaintext"])) == 16
    code, out, _ = run_main(capsys, "kms", "list-resource-tags", "--key-id", metadata["KeyId"])
    assert json.loads(out)["Tags"] == [{"TagKey": "team", "TagValue": "a"}]
    # an empty reply prints nothing, as aws does
    code, out, err = run_main(
        capsys,
        "kms",
        "tag-resource",
        "--key-id",
        metadata["KeyId"],
        "--tags",
        '[{"TagKey": "b", "TagValue": "2"}]',
    )
    assert (code, out) == (0, ""), err


def test_kms_query_and_text_output(
    moto_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    metadata = create_key(capsys)
    code, out, _ = run_main(
        capsys,
        "kms",
        "describe-key",
        "--key-id",
        metadata["Arn"],
        "--query",
        "KeyMetadata.KeyId",
        "--output",
        "text",
    )
    assert (code, out) == (0, metadata["KeyId"] + "\n")
    code, out, _ = run_main(
        capsys, "kms", "describe-key", "--key-id", metadata["Arn"], "--query", "KeyMetadata.Arn"
    )
    assert json.loads(out) == metadata["Arn"]
    code, out, _ = run_main(
        capsys,
        "kms",
        "describe-key",
        "--key-id",
        metadata["Arn"],
        "--output",
        "text",
        "--query",
        "KeyMetadata.EncryptionAlgorithms",
    )
    assert out == "SYMMETRIC_DEFAULT\n"
    code, _, err = run_main(capsys, "kms", "list-keys", "--query", "Keys[")
    assert code == 252 and "Bad value for --query" in err


def test_kms_booleans_strings_from_files_and_cli_input_json(
    moto_env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "description.txt").write_text("from a file ✓", encoding="utf-8")
    metadata = create_key(
        capsys, "--multi-region", "--description", f"file://{tmp_path}/description.txt"
    )
    assert metadata["MultiRegion"] is True
    assert metadata["Description"] == "from a file ✓"
    assert create_key(capsys, "--no-multi-region")["MultiRegion"] is False
    (tmp_path / "input.json").write_text(
        json.dumps({"Description": "from json", "KeyUsage": "ENCRYPT_DECRYPT"})
    )
    from_json = create_key(capsys, "--cli-input-json", f"file://{tmp_path}/input.json")
    assert from_json["Description"] == "from json"
    # explicit options win over --cli-input-json
    both = create_key(
        capsys, "--cli-input-json", '{"Description": "json"}', "--description", "option"
    )
    assert both["Description"] == "option"
    # blobs in --cli-input-json are base64, as in AWS CLI v2
    code, out, err = run_main(
        capsys,
        "kms",
        "encrypt",
        "--cli-input-json",
        json.dumps({"KeyId": both["Arn"], "Plaintext": base64.b64encode(b"hi").decode()}),
    )
    assert code == 0, err
    code, out, _ = run_main(
        capsys,
        "kms",
        "decrypt",
        "--ciphertext-blob",
        json.loads(out)["CiphertextBlob"],
        "--query",
        "Plaintext",
        "--output",
        "text",
    )
    assert base64.b64decode(out) == b"hi", (code, out, _)
    # --cli-binary-format raw-in-base64-out takes the text itself
    code, out, _ = run_main(
        capsys,
        "kms",
        "encrypt",
        "--key-id",
        both["Arn"],
        "--plaintext",
        "raw text",
        "--cli-binary-format",
        "raw-in-base64-out",
        "--query",
        "CiphertextBlob",
        "--output",
        "text",
    )
    code, out, _ = run_main(
        capsys,
        "kms",
        "decrypt",
        "--ciphertext-blob",
        out.strip(),
        "--query",
        "Plaintext",
        "--output",
        "text",
    )
    assert base64.b64decode(out) == b"raw text"


def test_kms_skeleton(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "kms", "encrypt", "--generate-cli-skeleton")
    assert code == 0
    assert set(json.loads(out)) >= {"KeyId", "Plaintext", "EncryptionContext"}


def test_kms_paginates_like_the_aws_cli(
    emulator: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in emulator_env(emulator).items():
        monkeypatch.setenv(name, value)
    for _ in range(3):
        create_key(capsys)
    _, out, _ = run_main(capsys, "kms", "list-keys")
    every = json.loads(out)["Keys"]
    assert len(every) >= 4 and set(json.loads(out)) == {"Keys"}
    _, out, _ = run_main(capsys, "kms", "list-keys", "--page-size", "1", "--max-items", "2")
    first = json.loads(out)
    assert first["Keys"] == every[:2] and first["NextToken"]
    _, out, _ = run_main(
        capsys, "kms", "list-keys", "--page-size", "1", "--starting-token", first["NextToken"]
    )
    assert json.loads(out)["Keys"] == every[2:]
    # a paging parameter of the API, or --no-paginate, makes one call and shows its page
    _, out, _ = run_main(capsys, "kms", "list-keys", "--limit", "1")
    page = json.loads(out)
    assert page["Keys"] == every[:1] and page["Truncated"] is True and page["NextMarker"]
    _, out, _ = run_main(capsys, "kms", "list-keys", "--no-paginate", "--limit", "2")
    assert json.loads(out)["Keys"] == every[:2]
    code, _, err = run_main(capsys, "kms", "list-keys", "--starting-token", "bogus")
    assert code == 252 and "StartingToken" in err


def test_kms_nested_shorthand_as_the_aws_cli(emulator: dict[str, str]) -> None:
    """Shorthand with braces, as in the KMS Developer Guide's create-grant example: the grant
    is the one the AWS CLI makes from the same text."""
    env = emulator_env(emulator)
    key = ok_json(aiokms("kms", "create-key", env=env))["KeyMetadata"]["KeyId"]
    grant = ["create-grant", "--key-id", key, "--operations", "Decrypt", "Encrypt"]
    grant += ["--grantee-principal", "arn:aws:iam::111122223333:root"]
    texts = ["EncryptionContextSubset={Department=IT}", "EncryptionContextEquals={a=b, c='d,e'}"]
    expected = [
        {"EncryptionContextSubset": {"Department": "IT"}},
        {"EncryptionContextEquals": {"a": "b", "c": "d,e"}},
    ]
    for text in texts:
        ok_json(aiokms("kms", *grant, "--constraints", text, env=env))
    listed = ok_json(aiokms("kms", "list-grants", "--key-id", key, env=env))["Grants"]
    assert [g["Constraints"] for g in listed] == expected
    result = aiokms("kms", *grant, "--constraints", "EncryptionContextEquals={a=b", env=env)
    assert result.returncode == 252
    assert (
        "Error parsing parameter '--constraints': Expected: ',', received: 'EOF' for input:\n"
        "EncryptionContextEquals={a=b\n                            ^\n"
    ) in result.stderr.decode()
    if aws_cli() is None:
        return
    for text in texts:
        assert aws(*grant, "--constraints", text, env=env).returncode == 0
    listed = ok_json(aiokms("kms", "list-grants", "--key-id", key, env=env))["Grants"]
    assert [g["Constraints"] for g in listed] == expected * 2


def aws_cli() -> str | None:
    """The AWS CLI (v1 where the test tools pin it): ``AIOKMS_AWS_CLI`` or ``aws`` on PATH."""
    return os.environ.get("AIOKMS_AWS_CLI") or shutil.which("aws")


def aws(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    command = aws_cli()
    assert command is not None
    clean = {k: v for k, v in env.items() if k not in ("AWS_PROFILE", "AWS_CONFIG_FILE")}
    clean["AWS_DEFAULT_REGION"] = env["AWS_REGION"]
    return subprocess.run(
        [command, "kms", *args], env=clean, capture_output=True, timeout=60, check=False
    )


def test_kms_help_says_which_aws_cli_it_follows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "kms", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "Blobs and timestamps follow the AWS CLI version 2" in text
    assert "--cli-binary-format raw-in-base64-out" in text
    assert "--cli-timestamp-format wire" in text
    for option in ("--debug", "--no-cli-pager", "--color", "--ca-bundle", "--no-verify-ssl"):
        assert option in out, option
    assert "{json,text,table,yaml}" in out


@pytest.mark.parametrize(
    ("args", "usage"),
    [(["help"], "usage: aiokms kms "), (["encrypt", "help"], "usage: aiokms kms encrypt ")],
)
def test_kms_help_as_a_word(
    capsys: pytest.CaptureFixture[str], args: list[str], usage: str
) -> None:
    code, out, _ = run_main(capsys, "kms", *args)
    assert code == 0 and out.startswith(usage)


def test_kms_as_the_aws_cli_v1_prints(emulator: dict[str, str]) -> None:
    """Epoch timestamps with --cli-timestamp-format wire, and NEXTTOKEN last in text output:
    what the AWS CLI (v1) prints, compared with it where it is installed."""
    env = emulator_env(emulator)
    for _ in range(2):
        assert aiokms("kms", "create-key", env=env).returncode == 0
    ours = ok_json(
        aiokms(
            "kms",
            "describe-key",
            "--key-id",
            "alias/cli",
            "--cli-timestamp-format",
            "wire",
            env=env,
        )
    )["KeyMetadata"]
    assert isinstance(ours["CreationDate"], float)
    listed = aiokms("kms", "list-keys", "--max-items", "1", "--output", "text", env=env)
    lines = listed.stdout.decode().splitlines()
    assert len(lines) == 2 and lines[0].startswith("KEYS\t") and lines[1].startswith("NEXTTOKEN\t")
    if aws_cli() is None:
        return
    theirs = json.loads(aws("describe-key", "--key-id", "alias/cli", env=env).stdout)
    theirs = theirs["KeyMetadata"]
    assert ours["CreationDate"] == pytest.approx(theirs.pop("CreationDate"), abs=1e-6)
    assert {k: v for k, v in ours.items() if k != "CreationDate"} == theirs
    reference = aws("list-keys", "--max-items", "1", "--output", "text", env=env)
    assert listed.stdout == reference.stdout


def test_kms_null_result_as_the_aws_cli(emulator: dict[str, str]) -> None:
    """A query that finds nothing: ``None`` in text, ``null`` in JSON, no table."""
    env = emulator_env(emulator)
    nothing = ["describe-key", "--key-id", "alias/cli", "--query", "Foo"]
    printed = {"text": b"None\n", "json": b"null\n", "table": b"", "yaml": b"null\n"}
    for output, expected in printed.items():
        result = aiokms("kms", *nothing, "--output", output, env=env)
        assert (result.returncode, result.stdout) == (0, expected), (output, result.stderr)
        if aws_cli() is not None and output != "yaml":  # v1 has no yaml
            assert aws(*nothing, "--output", output, env=env).stdout == expected, output


def test_kms_text_output_queries_each_page_as_the_aws_cli(emulator: dict[str, str]) -> None:
    """With --output text the query runs on each page (and on the NEXTTOKEN of a --max-items
    cut, where it finds nothing: None); with JSON, once on the whole listing."""
    env = emulator_env(emulator)
    for _ in range(3):
        assert aiokms("kms", "create-key", env=env).returncode == 0
    keys = [k["KeyId"] for k in ok_json(aiokms("kms", "list-keys", env=env))["Keys"]]
    first = ["list-keys", "--page-size", "2", "--query", "Keys[0].KeyId"]
    per_page = aiokms("kms", *first, "--output", "text", env=env)
    assert per_page.stdout.decode() == "".join(f"{k}\n" for k in keys[::2])
    cut = aiokms("kms", *first, "--max-items", "3", "--output", "text", env=env)
    assert cut.stdout.decode() == f"{keys[0]}\n{keys[2]}\nNone\n"
    whole = aiokms("kms", *first, env=env)
    assert ok_json(whole) == keys[0]
    wrong = aiokms("kms", "list-keys", "--query", "abs(Keys)", "--output", "text", env=env)
    assert wrong.returncode == 255  # as aws: the message, no traceback
    assert wrong.stderr.decode().startswith("aiokms kms: In function abs(), invalid type for")
    if aws_cli() is None:
        return
    assert per_page.stdout == aws(*first, "--output", "text", env=env).stdout
    assert cut.stdout == aws(*first, "--max-items", "3", "--output", "text", env=env).stdout
    assert whole.stdout == aws(*first, env=env).stdout


def test_kms_output_from_the_environment_or_the_profile(
    emulator: dict[str, str], tmp_path: Path
) -> None:
    """--output, else AWS_DEFAULT_OUTPUT, else the profile's output, else json: the AWS CLI's
    order, compared with it where it is installed."""
    config = tmp_path / "config"
    config.write_text("[default]\noutput = text\n\n[profile tabled]\noutput = table\n")
    env = {**emulator_env(emulator), "AWS_CONFIG_FILE": str(config)}
    env["AWS_DEFAULT_REGION"] = env["AWS_REGION"]
    env.pop("AWS_DEFAULT_OUTPUT", None)
    env.pop("AWS_PROFILE", None)
    query = ["describe-key", "--key-id", "alias/cli", "--query", "KeyMetadata.KeyId"]
    key_id = ok_json(aiokms("kms", *query, "--output", "json", env=env))
    cases = [
        ([], {}, f"{key_id}\n"),
        ([], {"AWS_DEFAULT_OUTPUT": "json"}, f'"{key_id}"\n'),
        (["--output", "text"], {"AWS_DEFAULT_OUTPUT": "json"}, f"{key_id}\n"),
        ([], {"AWS_PROFILE": "tabled"}, "-"),
        ([], {"AWS_PROFILE": "tabled", "AWS_DEFAULT_OUTPUT": "text"}, f"{key_id}\n"),
    ]
    for options, variables, printed in cases:
        result = aiokms("kms", *query, *options, env={**env, **variables})
        assert result.returncode == 0, result.stderr.decode()
        assert result.stdout.decode().startswith(printed), (options, variables)
        command = aws_cli()
        if command is not None:
            theirs = subprocess.run(
                [command, "kms", *query, *options],
                env={**env, **variables},
                capture_output=True,
                timeout=60,
                check=False,
            )
            assert theirs.stdout.decode().startswith(printed), (options, variables)
    result = aiokms("kms", *query, env={**env, "AWS_DEFAULT_OUTPUT": "xml"})
    assert result.returncode == 255 and b"Unknown output type: xml" in result.stderr
    result = aiokms("kms", *query, "--profile", "nope", env=env)
    assert result.returncode == 253 and b"nope" in result.stderr


def test_kms_yaml_and_table_output(emulator: dict[str, str]) -> None:
    yaml = pytest.importorskip("yaml")
    env = emulator_env(emulator)
    for operation in (["describe-key", "--key-id", "alias/cli"], ["list-keys"]):
        as_json = ok_json(aiokms("kms", *operation, env=env))
        result = aiokms("kms", *operation, "--output", "yaml", env=env)
        assert result.returncode == 0, result.stderr.decode()
        assert yaml.safe_load(result.stdout) == as_json  # "111122223333" stays a string
    metadata = ok_json(aiokms("kms", "describe-key", "--key-id", "alias/cli", env=env))
    result = aiokms("kms", "describe-key", "--key-id", "alias/cli", "--output", "table", env=env)
    lines = result.stdout.decode().splitlines()
    assert len({len(line) for line in lines}) == 1  # one width
    assert set(lines[0]) == {"-"} and lines[1].strip("| ") == "DescribeKey"
    assert lines[3].strip("| ") == "KeyMetadata"
    names = [line.split("|")[2].strip() for line in lines[5:] if line.startswith("||  ")]
    assert names[:3] == ["AWSAccountId", "Arn", "CreationDate"]  # by name, as aws
    assert "||  Arn " in result.stdout.decode() and metadata["KeyMetadata"]["Arn"] in lines[6]
    assert any(line.strip("| ") == "EncryptionAlgorithms" for line in lines)
    assert b"\x1b[" not in result.stdout  # --color auto: not a terminal
    colored = aiokms("kms", "list-keys", "--output", "table", "--color", "on", env=env)
    assert b"\x1b[1m" in colored.stdout
    # --no-cli-pager is taken and changes nothing
    paged = aiokms("kms", "describe-key", "--key-id", "alias/cli", "--no-cli-pager", env=env)
    assert ok_json(paged) == metadata


def test_kms_debug_redacts_secrets(emulator: dict[str, str], tmp_path: Path) -> None:
    env = emulator_env(emulator)
    secret = tmp_path / "secret"
    secret.write_bytes(b"the plaintext, never logged")
    result = aiokms(
        "kms",
        "--debug",
        "encrypt",
        "--key-id",
        "alias/cli",
        "--plaintext",
        f"fileb://{secret}",
        env=env,
    )
    assert result.returncode == 0, result.stderr.decode()
    err = result.stderr.decode()
    request, reply = err.splitlines()
    assert request.startswith("aiokms kms: debug: request Encrypt to http://127.0.0.1:")
    assert '"Plaintext": "<redacted: 27 bytes>"' in request
    assert reply.startswith("aiokms kms: debug: reply Encrypt (HTTP 200, 0 retries, ")
    assert json.loads(result.stdout)["CiphertextBlob"] in reply
    result = aiokms(
        "kms",
        "generate-data-key",
        "--key-id",
        "alias/cli",
        "--key-spec",
        "AES_256",
        "--debug",
        env=env,
    )
    err = result.stderr.decode()
    assert json.loads(result.stdout)["Plaintext"] not in err
    assert '"Plaintext": "<redacted: 32 bytes>"' in err
    for secret_text in (env["AWS_SECRET_ACCESS_KEY"], "the plaintext"):
        assert secret_text not in err
    result = aiokms("kms", "describe-key", "--key-id", "alias/none", "--debug", env=env)
    assert result.returncode == 254
    assert "debug: error DescribeKey (HTTP 400, 0 retries, " in result.stderr.decode()
    assert "NotFoundException" in result.stderr.decode()


def test_kms_timeouts_of_0_wait_as_long_as_it_takes(
    emulator: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--cli-read-timeout 0 and --cli-connect-timeout 0 mean no timeout, as in the AWS CLI."""
    for name, value in emulator_env(emulator).items():
        monkeypatch.setenv(name, value)
    made: list[dict[str, Any]] = []

    def make_client(args: Any, **kwargs: Any) -> Any:
        made.append(kwargs)
        return real(args, **kwargs)

    real = _kms.make_client
    monkeypatch.setattr(_kms, "make_client", make_client)
    describe = ["kms", "describe-key", "--key-id", "alias/cli"]
    code, _, err = run_main(
        capsys, *describe, "--cli-read-timeout", "0", "--cli-connect-timeout", "0"
    )
    assert code == 0, err
    year = 365 * 24 * 3600
    assert made[0]["read_timeout"] >= year and made[0]["connect_timeout"] >= year
    code, _, err = run_main(capsys, *describe, "--cli-read-timeout", "2.5")
    assert code == 0, err
    assert made[1] == {"read_timeout": 2.5}
    code, _, err = run_main(capsys, *describe, "--cli-connect-timeout", "-1")
    assert code == 252 and "'-1' must be 0 or more" in err


def test_kms_over_tls_with_ca_bundle_or_without_verification(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = TestCA(tmp_path)
    server_side = ca.server_context()
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "AKIDTLS"),
        ("AWS_SECRET_ACCESS_KEY", "tls-secret"),
        ("AWS_REGION", REGION),
        ("AWS_MAX_ATTEMPTS", "1"),
    ):
        monkeypatch.setenv(name, value)
    with ThreadedKMS(tls=server_side) as server:
        assert server.url.startswith("https://")
        base = ["kms", "list-aliases", "--no-paginate", "--endpoint-url", server.url]
        code, _, err = run_main(capsys, *base)
        assert code == 255 and "CERTIFICATE_VERIFY_FAILED" in err  # verified by default
        code, _, err = run_main(capsys, *base, "--ca-bundle", str(ca.bundle))
        assert code == 0, err
        code, _, err = run_main(capsys, *base, "--no-verify-ssl")
        assert code == 0, err
        assert len(server.requests) == 2


def test_kms_tls_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "none.pem"
    code, _, err = run_main(
        capsys, "kms", "list-keys", "--region", REGION, "--ca-bundle", str(missing)
    )
    assert code == 253 and f"--ca-bundle: cannot load {missing}" in err
    # a directory of hashed certificates (OpenSSL's capath) is the client's to read, as with
    # verify= or AWS_CA_BUNDLE: not refused as a file that cannot be loaded
    nobody = ("--endpoint-url", "https://127.0.0.1:9")  # nothing listens: nothing is sent
    code, _, err = run_main(
        capsys, "kms", "list-keys", "--region", REGION, *nobody, "--ca-bundle", str(tmp_path)
    )
    assert code != 0 and "--ca-bundle" not in err and "cannot load" not in err


def test_kms_configuration_and_connection_failures(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run_main(capsys, "kms", "list-keys")  # the environment has no region
    assert code == 253 and "You must specify a region" in err
    code, _, err = run_main(
        capsys, "kms", "list-keys", "--region", REGION, "--endpoint-url", "http://127.0.0.1:9"
    )
    assert code == 253 and "Unable to locate credentials" in err
    code, _, err = run_main(capsys, "kms", "list-keys", "--profile", "nope")
    assert code == 253 and "nope" in err
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code, _, err = run_main(
        capsys, "kms", "list-keys", "--region", REGION, "--endpoint-url", "http://127.0.0.1:9"
    )
    assert code == 255 and "Could not connect to the endpoint URL" in err


def test_to_jsonable() -> None:
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=datetime.timezone.utc)
    reply = {
        "Blob": b"\x00\x01",
        "When": when,
        "List": [{"B": bytearray(b"x")}],
        "ResponseMetadata": {"RequestId": "r"},
    }
    assert _kms.to_jsonable(reply) == {
        "Blob": "AAE=",
        "When": "2024-05-06T07:08:09.123000+00:00",
        "List": [{"B": "eA=="}],
    }


# --- aiokms emulator --------------------------------------------------------------------------


@contextlib.contextmanager
def serving_emulator(*flags: str) -> Iterator[dict[str, str]]:
    """``aiokms emulator --json`` with ``flags`` in a subprocess; yields its announcement."""
    process = subprocess.Popen(
        [*COMMAND, "emulator", "--json", "--alias", "alias/cli", *flags],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        line = process.stdout.readline()
        assert line, process.stderr.read().decode()
        yield json.loads(line)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()
        process.stderr.close()


@pytest.fixture(scope="module")
def emulator() -> Iterator[dict[str, str]]:
    with serving_emulator() as announced:
        yield announced


def emulator_env(announced: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": announced["access_key"],
        "AWS_SECRET_ACCESS_KEY": announced["secret_key"],
        "AWS_REGION": announced["region"],
        "AWS_ENDPOINT_URL_KMS": announced["endpoint_url"],
    }


def test_emulator_serves_kms_commands(emulator: dict[str, str]) -> None:
    assert emulator["endpoint_url"].startswith("http://127.0.0.1:")
    env = emulator_env(emulator)
    described = ok_json(aiokms("kms", "describe-key", "--key-id", "alias/cli", env=env))
    assert described["KeyMetadata"]["Arn"].startswith("arn:aws:kms:")
    result = aiokms("kms", "describe-key", "--key-id", "alias/none", env=env)
    assert result.returncode == 254 and b"(NotFoundException)" in result.stderr


def test_emulator_failures_exit_with_the_aws_cli_codes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A flag's value LocalKMS refuses is a bad argument (252); an address in use or a state
    file that cannot be written is another failure (255), and the message says which."""
    policy = tmp_path / "policy.json"
    policy.write_text('{"Statement": []}')
    code, out, err = run_main(capsys, "emulator", "--identity-policy", f"AKIDX={policy}")
    assert code == 252 and out == ""
    assert "aiokms emulator: error: --identity-policy: 'AKIDX' is not an --identity" in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = aiokms("emulator", "--port", str(port))
    assert result.returncode == 255 and result.stdout == b""
    assert result.stderr.startswith(
        f"aiokms emulator: error: cannot listen on 127.0.0.1:{port}: ".encode()
    )
    state = tmp_path / "missing" / "state.json"
    result = aiokms("emulator", "--state-file", str(state))
    assert result.returncode == 255 and result.stdout == b""
    message = f"aiokms emulator: error: state file {state}: No such file or directory\n"
    assert result.stderr.decode() == message


def test_the_emulator_command_does_not_import_the_cli() -> None:
    code = (
        "import sys, aiokms.emulator.__main__; "
        "print(sorted(m for m in sys.modules if m.startswith('aiokms.cli')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=60, check=True
    )
    assert result.stdout == b"[]\n"


def test_the_cli_uses_only_public_names() -> None:
    """The ``aiokms`` command is a user of the library: it imports ``aiokms``'s public names,
    its own modules, the emulator's command and the value types the two commands share."""
    allowed = ("aiokms.cli", "aiokms.emulator", "aiokms._argtypes")
    root = Path(cli.__file__).parent
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.startswith("aiokms") and not name.startswith(allowed):
                    private = [
                        p for p in name.split(".") if p.startswith("_") and p != "__version__"
                    ]
                    assert not private, f"{path.relative_to(root)} imports {name}"


@pytest.fixture(scope="module")
def tls_emulator() -> Iterator[dict[str, str]]:
    with serving_emulator("--tls") as announced:
        yield announced


def test_kms_commands_verify_the_certificate(tls_emulator: dict[str, str]) -> None:
    assert tls_emulator["endpoint_url"].startswith("https://127.0.0.1:")
    env = emulator_env(tls_emulator)
    describe = ("kms", "describe-key", "--key-id", "alias/cli")
    refused = aiokms(*describe, env=env)
    assert refused.returncode == 255
    assert b"CERTIFICATE_VERIFY_FAILED" in refused.stderr
    assert b"unable to get local issuer certificate" in refused.stderr
    trusted = ok_json(aiokms(*describe, "--ca-bundle", tls_emulator["ca_bundle"], env=env))
    assert trusted["KeyMetadata"]["Arn"].startswith("arn:aws:kms:")
    ok_json(aiokms("kms", "--no-verify-ssl", *describe[1:], env=env))
    # as in the AWS CLI, --no-verify-ssl wins over a bundle
    ok_json(aiokms(*describe, "--no-verify-ssl", "--ca-bundle", "/nowhere.pem", env=env))
    ok_json(aiokms(*describe, env={**env, "AWS_CA_BUNDLE": tls_emulator["ca_bundle"]}))
    missing = aiokms(*describe, "--ca-bundle", "/nowhere.pem", env=env)
    assert missing.returncode == 253
    assert b"--ca-bundle: cannot load /nowhere.pem" in missing.stderr


@pytest.mark.parametrize("flags", [["--ca-bundle", "<bundle>"], ["--no-verify-ssl"], []])
def test_bench_verifies_the_certificate(
    tls_emulator: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
) -> None:
    for name, value in emulator_env(tls_emulator).items():
        monkeypatch.setenv(name, value)
    flags = [tls_emulator["ca_bundle"] if flag == "<bundle>" else flag for flag in flags]
    code, out, err = bench(
        capsys,
        "--endpoint-url",
        tls_emulator["endpoint_url"],
        "--key-id",
        "alias/cli",
        "--operation",
        "generate-data-key",
        "--requests",
        "10",
        "--json",
        *flags,
    )
    if not flags:
        assert code == 255
        assert json.loads(out)["errors"] == {"CertificateError": 10}
        return
    assert code == 0, err
    assert json.loads(out)["operations"]["succeeded"] == 10


# --- aiokms encrypt / decrypt -----------------------------------------------------------------


@pytest.fixture
def two_keys(moto_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [create_key(capsys)["Arn"] for _ in range(2)]


def crypt(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``aiokms encrypt|decrypt`` in-process, with files; returns (exit code, stderr)."""
    code, out, err = run_main(capsys, *args)
    assert out == ""
    return code, err


def test_encrypt_decrypt_through_pipes(
    moto_env: dict[str, str], two_keys: list[str], tmp_path: Path
) -> None:
    plaintext = os.urandom(300_000) + b"\r\n\x00\x1a"  # several frames, binary-safe
    result = aiokms(
        "encrypt",
        "--key-id",
        two_keys[0],
        "--key-id",
        two_keys[1],
        "--context",
        "tenant=a",
        "--algorithm",
        "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384",
        env=moto_env,
        stdin=plaintext,
    )
    assert result.returncode == 0, result.stderr.decode()
    message = result.stdout
    assert message[:3] == b"\x02\x05\x78" and plaintext not in message  # v2, suite 0x0578
    # stdin to stdout ('-'), with the second key only, and the required context pair
    result = aiokms(
        "decrypt",
        "-k",
        two_keys[1],
        "-c",
        "tenant=a",
        "-i",
        "-",
        "-o",
        "-",
        env=moto_env,
        stdin=message,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == plaintext


def peak_rss_mib(*args: str, env: dict[str, str]) -> float:
    """The peak resident memory of ``aiokms ARGS``, in MiB (measured by a parent of its own)."""
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *COMMAND, *args],
        capture_output=True,
        env=env,
        timeout=120,
        check=True,
    )
    return int(result.stdout) / 1024  # ru_maxrss is in KiB on Linux


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ")
def test_encrypt_decrypt_stream_in_bounded_memory(
    moto_env: dict[str, str], two_keys: list[str], tmp_path: Path
) -> None:
    big = 48 * 2**20
    (tmp_path / "small").write_bytes(b"x")
    with open(tmp_path / "big", "wb") as file:
        file.truncate(big)  # zeros, without holding them here either
    key = ["-k", two_keys[0]]
    files = {name: str(tmp_path / name) for name in ("small", "big", "message", "back")}
    baseline = peak_rss_mib(
        "encrypt", *key, "-i", files["small"], "-o", files["message"], env=moto_env
    )
    encrypting = peak_rss_mib(
        "encrypt", *key, "-i", files["big"], "-o", files["message"], env=moto_env
    )
    decrypting = peak_rss_mib(
        "decrypt", *key, "-i", files["message"], "-o", files["back"], env=moto_env
    )
    assert os.path.getsize(files["back"]) == big
    # holding the file would take 48 MiB more (twice that with the output)
    assert encrypting < baseline + 16, (baseline, encrypting)
    assert decrypting < baseline + 16, (baseline, decrypting)


def test_encrypt_decrypt_files(
    moto_env: dict[str, str],
    two_keys: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for size in (0, 1, 4096, 200_003):
        plaintext = os.urandom(size)
        (tmp_path / "plain").write_bytes(plaintext)
        code, err = crypt(
            capsys,
            "encrypt",
            "-k",
            two_keys[0],
            "-c",
            "a=1",
            "-c",
            "b=2",
            "--frame-length",
            "1000",
            "--input",
            str(tmp_path / "plain"),
            "--output",
            str(tmp_path / "message"),
        )
        assert code == 0, err
        message = (tmp_path / "message").read_bytes()
        assert message[:3] == b"\x02\x04\x78"  # v2, the default suite 0x0478
        code, err = crypt(
            capsys,
            "decrypt",
            "-k",
            two_keys[0],
            "-c",
            "b=2",
            "--input",
            str(tmp_path / "message"),
            "--output",
            str(tmp_path / "back"),
        )
        assert code == 0, err
        assert (tmp_path / "back").read_bytes() == plaintext
        assert sorted(p.name for p in tmp_path.iterdir()) == ["back", "message", "plain"]


def test_decrypt_failures_leave_no_output_file(
    moto_env: dict[str, str],
    two_keys: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "plain").write_bytes(b"x" * 10_000)
    code, err = crypt(
        capsys,
        "encrypt",
        "-k",
        two_keys[0],
        "-c",
        "tenant=a",
        "-i",
        str(tmp_path / "plain"),
        "-o",
        str(tmp_path / "message"),
    )
    assert code == 0, err
    message = (tmp_path / "message").read_bytes()
    work = tmp_path / "work"
    work.mkdir()
    opaque = "aiokms decrypt: the message is not a valid, authentic message for this decryptor"
    cases = {
        "wrong context": (
            message,
            ["-k", two_keys[0], "--context", "tenant=b"],
            ": its encryption context has another value for the pair 'tenant' required",
        ),
        "tampered": (
            message[:-40] + bytes([message[-40] ^ 1]) + message[-39:],
            ["-k", two_keys[0]],
            "",
        ),
        "truncated": (message[:-1], ["-k", two_keys[0]], ""),
        "trailing bytes": (message + b"\x00", ["-k", two_keys[0]], ""),
        "not a message": (b"hello", ["-k", two_keys[0]], ""),
        "not for this key": (
            message,
            ["-k", two_keys[1]],
            f": no encrypted data key is under the key ids given; the message has them under "
            f"KMS keys {two_keys[0]}",
        ),
    }
    for name, (data, extra, reason) in cases.items():
        (work / "in").write_bytes(data)
        code, err = crypt(
            capsys, "decrypt", *extra, "-i", str(work / "in"), "-o", str(work / "out")
        )
        assert code == 255, name
        assert err.endswith(f"{opaque}{reason}\n"), (name, err)
        assert [p.name for p in work.iterdir()] == ["in"], name
    # a KMS error: exit 254 with KMS's code
    code, err = crypt(
        capsys,
        "encrypt",
        "-k",
        "alias/missing",
        "-i",
        str(tmp_path / "plain"),
        "-o",
        str(work / "out"),
    )
    assert code == 254 and "(NotFoundException)" in err
    assert [p.name for p in work.iterdir()] == ["in"]


@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
async def test_sigterm_mid_stream_leaves_no_output_file(
    moto_env: dict[str, str],
    two_keys: list[str],
    tmp_path: Path,
    command: str,
) -> None:
    """SIGTERM while the output is being written, the input stalled (its writer neither writes
    nor closes): the command stops at once, removes what it wrote, and exits 143."""
    data = os.urandom(300_000)
    if command == "decrypt":
        result = await asyncio.to_thread(
            aiokms, "encrypt", "-k", two_keys[0], env=moto_env, stdin=data
        )
        assert result.returncode == 0, result.stderr.decode()
        data = result.stdout
    work = tmp_path / "work"
    work.mkdir()
    proc = await asyncio.create_subprocess_exec(
        *[*COMMAND, command, "-k", two_keys[0], "-o", str(work / "out")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=moto_env,
    )
    try:
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write(data[:200_000])  # three chunks and part of a fourth: it waits for more
        await asyncio.wait_for(proc.stdin.drain(), 60)

        def writing() -> bool:
            return any(p.stat().st_size > 0 for p in work.glob(".out.*.partial"))

        await until(writing)
        proc.send_signal(signal.SIGTERM)  # this child only, by its PID
        assert await asyncio.wait_for(proc.wait(), 30) == 143
        assert (await proc.stderr.read()).endswith(f"aiokms {command}: terminated\n".encode())
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
    assert list(work.iterdir()) == []


def test_decrypt_resolves_aliases_to_key_arns(
    moto_env: dict[str, str],
    two_keys: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code, _, err = run_main(
        capsys,
        "kms",
        "create-alias",
        "--alias-name",
        "alias/cli-decrypt",
        "--target-key-id",
        two_keys[0],
    )
    assert code == 0, err
    (tmp_path / "plain").write_bytes(b"aliased")
    files = {name: str(tmp_path / name) for name in ("plain", "message", "back")}
    assert (
        crypt(
            capsys,
            "encrypt",
            "-k",
            "alias/cli-decrypt",
            "-i",
            files["plain"],
            "-o",
            files["message"],
        )[0]
        == 0
    )
    assert (
        crypt(
            capsys,
            "decrypt",
            "-k",
            "alias/cli-decrypt",
            "-i",
            files["message"],
            "-o",
            files["back"],
        )[0]
        == 0
    )
    assert (tmp_path / "back").read_bytes() == b"aliased"


class Esdk:
    """The aws-encryption-sdk package, its boto3 pointed at moto by the environment."""

    def __init__(self, key_ids: list[str]) -> None:
        import aws_encryption_sdk
        from aws_encryption_sdk.identifiers import CommitmentPolicy

        self.client = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
        )
        self.provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
            key_ids=key_ids, botocore_session=botocore.session.Session()
        )

    def encrypt(self, plaintext: bytes, context: dict[str, str]) -> bytes:
        message, _ = self.client.encrypt(
            source=plaintext, key_provider=self.provider, encryption_context=context
        )
        return message  # type: ignore[no-any-return]

    def decrypt(self, message: bytes) -> tuple[bytes, dict[str, str]]:
        plaintext, header = self.client.decrypt(source=message, key_provider=self.provider)
        return plaintext, dict(header.encryption_context)


def test_interop_with_the_aws_encryption_sdk(
    moto_env: dict[str, str],
    two_keys: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    esdk = Esdk(two_keys)
    plaintext = os.urandom(50_000)
    # the ESDK's default suite, 0x0578 (signed); its data key wrapped under both keys
    (tmp_path / "by-esdk").write_bytes(esdk.encrypt(plaintext, {"purpose": "interop ✓"}))
    code, err = crypt(
        capsys,
        "decrypt",
        "-k",
        two_keys[1],
        "-c",
        "purpose=interop ✓",
        "-i",
        str(tmp_path / "by-esdk"),
        "-o",
        str(tmp_path / "back"),
    )
    assert code == 0, err
    assert (tmp_path / "back").read_bytes() == plaintext
    code, err = crypt(
        capsys,
        "encrypt",
        "-k",
        two_keys[0],
        "-k",
        two_keys[1],
        "-c",
        "purpose=back ✓",
        "-i",
        str(tmp_path / "back"),
        "-o",
        str(tmp_path / "by-aiokms"),
    )
    assert code == 0, err
    decrypted, context = Esdk(two_keys[1:]).decrypt((tmp_path / "by-aiokms").read_bytes())
    assert decrypted == plaintext and context["purpose"] == "back ✓"


@pytest.fixture(scope="session")
def esdk_cli_tool(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``aws-encryption-cli``, built once into pytest's cache (or a temporary folder)."""
    cache = getattr(pytestconfig, "cache", None)
    folder = cache.mkdir("esdk-cli") if cache is not None else tmp_path_factory.mktemp("esdk")
    return esdk_cli(folder)


@pytest.mark.timeout(1200)  # the first run builds the tool's virtualenv
def test_interop_with_the_esdk_command_line_tool(
    moto_env: dict[str, str],
    two_keys: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    esdk_cli_tool: Path,
) -> None:
    tool = str(esdk_cli_tool)
    plaintext = os.urandom(70_000)
    (tmp_path / "plain").write_bytes(plaintext)
    esdk = subprocess.run(
        [
            tool,
            "--encrypt",
            "--input",
            str(tmp_path / "plain"),
            "--output",
            str(tmp_path / "by-esdk"),
            "--wrapping-keys",
            f"key={two_keys[0]}",
            "--encryption-context",
            "tenant=a",
            "-S",
        ],
        env=moto_env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert esdk.returncode == 0, esdk.stderr.decode()
    result = aiokms(
        "decrypt",
        "-k",
        two_keys[0],
        "-c",
        "tenant=a",
        "-i",
        str(tmp_path / "by-esdk"),
        env=moto_env,
    )
    assert (result.returncode, result.stdout) == (0, plaintext), result.stderr
    result = aiokms(
        "encrypt",
        "-k",
        two_keys[0],
        "-c",
        "tenant=b",
        "-i",
        str(tmp_path / "plain"),
        "-o",
        str(tmp_path / "by-aiokms"),
        env=moto_env,
    )
    assert result.returncode == 0, result.stderr
    esdk = subprocess.run(
        [
            tool,
            "--decrypt",
            "--input",
            str(tmp_path / "by-aiokms"),
            "--output",
            str(tmp_path / "back"),
            "--wrapping-keys",
            f"key={two_keys[0]}",
            "--encryption-context",
            "tenant=b",
            "-S",
        ],
        env=moto_env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert esdk.returncode == 0, esdk.stderr.decode()
    assert (tmp_path / "back").read_bytes() == plaintext


# --- aiokms bench -----------------------------------------------------------------------------


def check_report(report: dict[str, Any]) -> None:
    """What must hold in every bench report."""
    ops = report["operations"]
    assert ops["total"] == ops["succeeded"] + ops["failed"]
    assert sum(report["errors"].values()) == ops["failed"]
    latency = report["latency_ms"]
    assert 0 <= latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"]
    assert latency["p99"] <= latency["max"]
    assert latency["min"] <= latency["mean"] <= latency["max"]
    assert report["elapsed_s"] > 0 and report["drain_s"] >= 0
    # operations drained after the end count in the totals, not in the throughput
    all_ops = ops["succeeded"] / report["elapsed_s"]
    if report["drain_s"] == 0:
        assert report["throughput_ops_s"] == pytest.approx(all_ops, rel=0.01, abs=0.1)
    else:
        assert report["throughput_ops_s"] <= all_ops + 0.1
    timeline = report["timeline"]
    assert sum(row["ops"] for row in timeline) == ops["succeeded"]
    assert sum(row["errors"] for row in timeline) == ops["failed"]
    kms = report["kms"]
    # the client's counters, placed in time, add up to the run's
    assert sum(row["kms_requests"] for row in timeline) == kms["requests"]
    assert sum(row["throttles"] for row in timeline) == kms["throttles"]
    assert sum(row["retries"] for row in timeline) == kms["retries"]
    # every retry follows a failed attempt; throttles are failed attempts
    failed_attempts = sum(kms["errors"].values())
    assert kms["retries"] <= failed_attempts <= kms["requests"]
    assert kms["throttles"] <= failed_attempts


def test_bench_closed_loop_direct_operation() -> None:
    result = aiokms(
        "bench",
        "--emulator",
        "--operation",
        "generate-data-key",
        "--requests",
        "300",
        "--concurrency",
        "8",
        "--json",
    )
    report = ok_json(result)
    assert result.stderr == b""  # no progress display without a terminal
    check_report(report)
    assert report["operations"] == {
        "total": 300,
        "succeeded": 300,
        "failed": 0,
        "missed_arrivals": 0,
        "cancelled": 0,
    }
    assert report["interrupted"] is False
    # every operation is one KMS call, plus any retries
    assert report["kms"]["requests"] == 300 + report["kms"]["retries"]
    assert report["cache"] is None
    assert report["quota_per_s"] is None  # the emulator meters no quota by default


def test_bench_timeline_has_throttles_retries_and_the_quota(tmp_path: Path) -> None:
    """Beyond the emulator's --rate-limit: throttles and retries in the timeline, where they
    happened, adding up to the run's; the quota in the report and on the plot."""
    plot = tmp_path / "bench.png"
    result = aiokms(
        "bench",
        "--emulator",
        "--rate-limit",
        "50",
        "--operation",
        "encrypt",
        "--payload-size",
        "64",
        "--duration",
        "2",
        "--concurrency",
        "8",
        "--json",
        "--plot",
        str(plot),
    )
    report = ok_json(result)
    check_report(report)  # the timeline's KMS counts add up to the run's
    assert report["quota_per_s"] == 50
    kms, timeline = report["kms"], report["timeline"]
    assert kms["throttles"] > 0 and kms["retries"] > 0
    assert timeline[-1]["t"] < 2.0 + report["drain_s"]
    assert {"kms_requests", "throttles", "retries"} <= set(timeline[0])
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def bench(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``aiokms bench`` in-process; returns (exit code, stdout, stderr)."""
    return run_main(capsys, "bench", *args)


def bench_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = bench(capsys, *args, "--json")
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    check_report(report)
    return report


def test_bench_envelope_with_cache_makes_few_kms_calls(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = bench_json(
        capsys,
        "--emulator",
        "--operation",
        "envelope-encrypt",
        "--requests",
        "500",
        "--contexts",
        "2",
    )
    cache = report["cache"]
    assert report["operations"]["succeeded"] == 500
    assert report["kms"]["requests"] == cache["kms_calls"] < 50
    assert cache["hits"] + cache["misses"] == 500
    assert cache["hit_ratio"] == pytest.approx(cache["hits"] / 500, abs=1e-4)
    assert cache["hit_ratio"] > 0.5


def test_bench_counts_throttles_and_errors_by_code(capsys: pytest.CaptureFixture[str]) -> None:
    report = bench_json(
        capsys,
        "--emulator",
        "--operation",
        "encrypt",
        "--rate-limit",
        "100",
        "--error-rate",
        "0.2",
        "--max-attempts",
        "1",
        "--requests",
        "400",
        "--concurrency",
        "16",
        "--payload-size",
        "64",
    )
    errors, kms = report["errors"], report["kms"]
    assert errors["KMSInternalException"] > 0 and errors["ThrottlingException"] > 0
    assert kms["throttles"] == errors["ThrottlingException"]  # one attempt: each one fails
    assert kms["errors"] == errors and kms["retries"] == 0
    assert kms["requests"] == report["operations"]["total"] == 400


def test_bench_passes_the_emulators_quotas_through(capsys: pytest.CaptureFixture[str]) -> None:
    report = bench_json(
        capsys,
        "--emulator",
        "--operation",
        "generate-data-key",
        "--quota",
        "Cryptographic operations (symmetric)=50",
        "--quota",
        "DescribeKey=1",
        "--max-attempts",
        "1",
        "--requests",
        "300",
        "--concurrency",
        "16",
    )
    assert 0 < report["errors"]["ThrottlingException"] < 300
    # the client's limiter of the quota that throttled is on, and no other
    rates = report["kms"]["limiter_rates"]
    assert list(rates) == ["Cryptographic operations (symmetric)"]
    assert report["kms"]["limiter_rate"] == rates["Cryptographic operations (symmetric)"]
    assert report["quota_per_s"] == 50  # the one generate-data-key counts against


def test_bench_retries_are_counted(capsys: pytest.CaptureFixture[str]) -> None:
    report = bench_json(
        capsys,
        "--emulator",
        "--operation",
        "generate-data-key",
        "--error-rate",
        "0.2",
        "--requests",
        "200",
        "--retry-mode",
        "standard",
    )
    kms = report["kms"]
    assert kms["retries"] > 0
    assert kms["requests"] == report["operations"]["total"] + kms["retries"]
    assert kms["errors"]["KMSInternalException"] >= kms["retries"]


def test_bench_open_loop_json_and_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plot = ["--plot", str(tmp_path / "bench.png")] if _has_matplotlib() else []
    report = bench_json(
        capsys,
        "--emulator",
        "--operation",
        "envelope-decrypt",
        "--no-cache",
        "--rate",
        "200",
        "--duration",
        "1",
        *plot,
    )
    ops = report["operations"]
    assert report["rate"] == 200 and report["cache"] is None
    assert ops["total"] + ops["missed_arrivals"] == 200  # arrivals at 0, 5, ..., 995 ms
    if plot:
        assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _has_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def test_bench_table_against_an_endpoint(
    moto_env: dict[str, str], two_keys: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = bench(
        capsys,
        "--endpoint-url",
        moto_env["AWS_ENDPOINT_URL_KMS"],
        "--key-id",
        two_keys[0],
        "--operation",
        "decrypt",
        "--requests",
        "30",
        "--concurrency",
        "4",
        "--rate",
        "100",
    )
    assert code == 0, err
    for row in (
        "operations",
        "30 ok, 0 failed",
        "throughput",
        "latency (ms)",
        "p50",
        "p90",
        "p99",
        "max",
        "KMS calls",
        "cache hit ratio",
        "throttles",
        "retries",
        "errors",
        "open loop at 100/s",
        moto_env["AWS_ENDPOINT_URL_KMS"],
    ):
        assert row in out, row


def test_bench_with_nothing_succeeding_exits_255(
    moto_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = bench(
        capsys,
        "--endpoint-url",
        moto_env["AWS_ENDPOINT_URL_KMS"],
        "--key-id",
        "alias/none",
        "--requests",
        "5",
        "--json",
    )
    assert code == 255
    assert "no operation succeeded" in err
    assert json.loads(out)["errors"] == {"NotFoundException": 5}


async def bench_until_sigint(*args: str, requests: int) -> tuple[int | None, bytes, bytes]:
    """``aiokms bench ARGS`` against a LocalKMS of this test, in a subprocess, sent SIGINT once
    ``requests`` requests have reached the server; its (exit code, stdout, stderr)."""
    async with LocalKMS(aliases=["alias/bench"]) as local:
        creds = local.credentials
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": creds.access_key,
            "AWS_SECRET_ACCESS_KEY": creds.secret_key,
            "AWS_REGION": local.region,
        }
        proc = await asyncio.create_subprocess_exec(
            *COMMAND,
            "bench",
            "--endpoint-url",
            local.endpoint_url,
            "--key-id",
            "alias/bench",
            *args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            await until(lambda: local.stats().requests >= requests)
            proc.send_signal(signal.SIGINT)  # this child only, by its PID
            out, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    return proc.returncode, out, err


async def test_bench_sigint_reports_what_was_measured(tmp_path: Path) -> None:
    """Ctrl-C mid-run: the report of the operations so far (and the plot), exit 130."""
    plot = ["--plot", str(tmp_path / "bench.png")] if _has_matplotlib() else []
    code, out, err = await bench_until_sigint(
        "--duration", "1m", "--concurrency", "4", "--json", *plot, requests=50
    )
    assert code == 130, err.decode()
    assert b"interrupted after" in err
    report = json.loads(out)
    check_report(report)
    assert report["interrupted"] is True and report["duration_s"] == 60
    assert report["operations"]["succeeded"] >= 40 and report["elapsed_s"] < 60
    assert report["kms"]["requests"] >= report["operations"]["total"]
    if plot:
        assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _stat(pid: int) -> list[str]:
    """Process ``pid``'s /proc/PID/stat fields after its name (state, ppid, ...); [] if gone."""
    with contextlib.suppress(OSError):
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return []


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux: from /proc)."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _stat(int(entry.name))[1:2] == [str(pid)]
    ]


def cpu_ticks(pid: int) -> int:
    """The CPU time process ``pid`` has used, user and system, in clock ticks."""
    fields = _stat(pid)
    return int(fields[11]) + int(fields[12]) if fields else 0


def connections(pid: int) -> int:
    """How many TCP connections process ``pid`` holds open (Linux: from /proc)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    count = 0
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                count += fields[3] == "01" and fields[9] in inodes  # 01: ESTABLISHED
    return count


def command(pid: int) -> bytes:
    """Process ``pid``'s command line (NUL-separated), once it runs its program; b"" if gone."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    return b""


def running(pid: int) -> bool:
    """Whether process ``pid`` exists (Linux: in /proc; a zombie not yet reaped counts)."""
    return Path(f"/proc/{pid}").exists()


@contextlib.asynccontextmanager
async def bench_and_its_emulator(
    *args: str, **options: Any
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """``aiokms bench --emulator *args`` once its emulator child has started: the bench
    process and the child's PID. Neither outlives the block, whatever happens in it."""
    proc = await asyncio.create_subprocess_exec(
        *COMMAND,
        "bench",
        "--emulator",
        *args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **options,
    )
    emulator = None
    try:

        def emulator_started() -> bool:
            return any(b"aiokms.emulator" in command(pid) for pid in children(proc.pid))

        await until(emulator_started)
        (emulator,) = children(proc.pid)
        yield proc, emulator
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if emulator is not None and running(emulator):  # a failed test leaves nothing behind
            os.kill(emulator, signal.SIGKILL)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
async def test_bench_ctrl_c_leaves_the_emulator_serving_until_the_report_then_stops_it() -> None:
    """Ctrl-C, as a terminal sends it (SIGINT to the foreground process group), mid-run: the
    emulator child, in a session of its own, does not get it and keeps serving while the load
    stops and the report is made; the report is printed, and the emulator is stopped and
    reaped: no process is left behind."""
    async with bench_and_its_emulator(
        *("--latency", "0.005", "--duration", "1m", "--concurrency", "4", "--json"),
        start_new_session=True,  # a process group of its own, as a shell's foreground job
    ) as (proc, emulator):
        assert os.getpgid(emulator) != os.getpgid(proc.pid)  # out of Ctrl-C's reach
        # the load runs (generate-data-key makes no call before it), and has for a while
        await until(lambda: connections(emulator) > 0)
        served = cpu_ticks(emulator)
        await until(lambda: cpu_ticks(emulator) >= served + 10)
        os.killpg(proc.pid, signal.SIGINT)  # the group this test made, by its id
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 130, err.decode()
    report = json.loads(out)
    check_report(report)
    assert report["interrupted"] is True and report["operations"]["succeeded"] > 100
    # the emulator kept serving until the load stopped: nothing failed for want of it
    assert report["operations"]["failed"] == 0 and report["kms"]["errors"] == {}
    assert not running(emulator)  # stopped and reaped by bench, not orphaned


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("when", ["starting", "serving"])
async def test_bench_sigterm_stops_the_emulator_and_exits_143(when: str) -> None:
    """SIGTERM (``timeout``, the end of a CI job) to bench alone, while its emulator child
    starts or while the load runs: the child, in a session of its own, does not get it, so
    bench stops and reaps it before it exits 143, as a process killed by SIGTERM would."""
    async with bench_and_its_emulator("--duration", "1m", "--no-progress") as (proc, emulator):
        if when == "serving":
            await until(lambda: connections(emulator) > 0)
        proc.send_signal(signal.SIGTERM)  # this child only, by its PID
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 143, err.decode()
    assert err.endswith(b"aiokms bench: terminated\n") and out == b""
    assert not running(emulator)  # stopped and reaped by bench, not orphaned


def test_bench_thresholds_exceeded_exit_1() -> None:
    result = aiokms(
        "bench",
        "--emulator",
        "--operation",
        "encrypt",
        "--payload-size",
        "64",
        "--error-rate",
        "0.3",
        "--max-attempts",
        "1",
        "--requests",
        "200",
        "--max-error-rate",
        "0.05",
        "--max-p99",
        "600000",
        "--json",
    )
    assert result.returncode == 1, result.stderr.decode()
    report = json.loads(result.stdout)
    check_report(report)
    checks = report["thresholds"]
    assert checks["max_p99_ms"]["ok"] is True and checks["max_p99_ms"]["limit"] == 600000
    rate = checks["max_error_rate"]
    assert rate["ok"] is False and rate["limit"] == 0.05
    assert rate["value"] == report["operations"]["failed"] / 200 > 0.05
    assert b"max_error_rate exceeded" in result.stderr
    assert b"max_p99_ms" not in result.stderr
    # 20 ms of latency on every reply: a p99 under 5 ms cannot be met, a 20 % error rate can
    result = aiokms(
        "bench",
        "--emulator",
        "--latency",
        "0.02",
        "--requests",
        "40",
        "--max-p99",
        "5",
        "--max-error-rate",
        "0.2",
    )
    assert result.returncode == 1, result.stderr.decode()
    assert b"max_p99_ms exceeded" in result.stderr
    assert "max p99 ms" in result.stdout.decode() and "EXCEEDED" in result.stdout.decode()


def test_bench_merge_of_two_runs_against_one_run_of_the_same_total(tmp_path: Path) -> None:
    """Two runs written with --hdr-out and merged count what one run of their total counts;
    the merged latencies are those of all the operations (HDR, 3 significant digits)."""
    common = ["bench", "--emulator", "--operation", "encrypt", "--payload-size", "64"]
    common += ["--error-rate", "0.1", "--max-attempts", "1", "--concurrency", "8"]
    halves = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.json"
        result = aiokms(*common, "--requests", "300", "--hdr-out", str(path), "--json")
        halves.append(ok_json(result))
        assert json.loads(path.read_text())["format"] == "aiokms-bench-hdr/1"
    whole = ok_json(aiokms(*common, "--requests", "600", "--json"))
    result = aiokms("bench", "merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json")
    merged = ok_json(result)
    check_report(merged)
    assert merged["runs"] == 2 and merged["latency_source"] == "hdr"
    assert merged["operations"]["total"] == whole["operations"]["total"] == 600
    a, b = halves
    assert merged["operations"]["failed"] == a["operations"]["failed"] + b["operations"]["failed"]
    assert merged["errors"] == dict(Counter(a["errors"]) + Counter(b["errors"]))
    assert merged["kms"]["requests"] == a["kms"]["requests"] + b["kms"]["requests"] == 600
    assert set(merged) - {"runs", "latency_source"} == set(whole)  # the report's shape
    for q in ("p50", "p99"):  # a mixture's quantile lies between its parts'
        low, high = sorted((a["latency_ms"][q], b["latency_ms"][q]))
        assert low * 0.99 <= merged["latency_ms"][q] <= high * 1.01
    assert merged["latency_ms"]["max"] == pytest.approx(
        max(a["latency_ms"]["max"], b["latency_ms"]["max"]), rel=1e-3
    )
    # the table, and an error for a file that is not one
    table = aiokms("bench", "merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert table.returncode == 0 and b"2 runs; latencies from HDR histograms" in table.stdout
    (tmp_path / "bad.json").write_text("{}")
    bad = aiokms("bench", "merge", str(tmp_path / "bad.json"))
    assert bad.returncode == 252 and b"not an 'aiokms bench --hdr-out' file" in bad.stderr


def test_bench_processes_share_the_load_and_merge() -> None:
    result = aiokms(
        "bench",
        "--emulator",
        "--operation",
        "generate-data-key",
        "--processes",
        "2",
        "--requests",
        "401",
        "--concurrency",
        "9",
        "--quotas",
        "1",
        "--json",
    )
    report = ok_json(result)
    check_report(report)
    assert report["quota_per_s"] == default_rates(REGION)["Cryptographic operations (symmetric)"]
    assert report["processes"] == 2 and report["runs"] == 2
    assert report["requests"] == 401 and report["concurrency"] == 9  # the totals, shared
    assert report["operations"]["total"] == 401
    assert report["kms"]["requests"] == 401 + report["kms"]["retries"]
    assert report["target"] == "emulator"


def test_bench_start_at_and_uvloop(tmp_path: Path) -> None:
    start = time.time() + 2
    path = tmp_path / "run.json"
    loop = ["--loop", "uvloop"] if importlib.util.find_spec("uvloop") else []
    report = ok_json(
        aiokms(
            "bench",
            "--emulator",
            "--requests",
            "50",
            "--start-at",
            datetime.datetime.fromtimestamp(start, datetime.timezone.utc).isoformat(),
            "--hdr-out",
            str(path),
            "--json",
            *loop,
        )
    )
    assert report["operations"]["succeeded"] == 50
    assert json.loads(path.read_text())["started_at"] >= start  # not a moment before
    if loop:
        assert report["loop"] == "uvloop"


def test_bench_options_that_need_an_extra(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiokms.cli import bench

    monkeypatch.setattr(bench, "hdr_available", lambda: False)
    code, _, err = bench_run(capsys, "--emulator", "--processes", "2")
    assert code == 253 and "--processes needs hdrhistogram: pip install 'aiokms[bench]'" in err
    code, _, err = bench_run(capsys, "--emulator", "--hdr-out", "x.json")
    assert code == 253 and "--hdr-out needs hdrhistogram" in err
    code, _, err = run_main(capsys, "bench", "merge", "x.json")
    assert code == 253 and "needs hdrhistogram" in err


def bench_run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run_main(capsys, "bench", *args)


async def test_bench_processes_sigint_merges_what_was_measured() -> None:
    """Ctrl-C reaches the parent; each worker is told once, stops and writes what it
    measured; the parent merges and prints it, exit 130."""
    code, out, err = await bench_until_sigint(
        "--processes", "2", "--duration", "1m", "--concurrency", "4", "--json", requests=100
    )
    assert code == 130, err.decode()
    report = json.loads(out)
    check_report(report)
    assert report["interrupted"] is True and report["runs"] == 2
    assert report["operations"]["succeeded"] >= 50 and report["elapsed_s"] < 60
