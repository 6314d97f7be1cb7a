"""The ``aiokms emulator`` command (``aiokms.emulator.__main__``): flags, announcement, serving
until signalled."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import aiokms
from aiokms.emulator import LocalKMS
from aiokms.emulator import __main__ as cli
from tests.emulator.helpers import (
    PROJECT_ROOT,
)


def test_parser_maps_every_flag() -> None:
    parser = cli.build_parser(prog="aiokms emulator")
    args = parser.parse_args(
        [
            "--port=4599",
            "--region=eu-west-1",
            "--account-id=123456789012",
            "--access-key=AKID",
            "--secret-key=secret",
            "--rate-limit=100",
            "--burst=20",
            "--latency=0.01",
            "--jitter=0.02",
            "--error-rate=0.1",
            "--drop-rate=0.05",
            "--slow-body=0.5",
            "--slow-body-rate=0.25",
            "--seed=42",
            "--state-file=/tmp/x.json",
            "--alias=alias/a",
            "--alias=alias/b",
            "--reset-endpoint",
            "--also-region=us-west-2",
            "--identity=AKIDALICE:alice-secret:arn:aws:iam::123456789012:user/alice",
            "--no-authorize",
            "--tls",
        ]
    )
    kwargs = cli.emulator_kwargs(args)
    assert kwargs == {
        "host": "127.0.0.1",
        "port": 4599,
        "region": "eu-west-1",
        "account_id": "123456789012",
        "access_key": "AKID",
        "secret_key": "secret",
        "session_token": None,
        "rate_limit": 100.0,
        "burst": 20.0,
        "quotas": None,
        "latency": 0.01,
        "jitter": 0.02,
        "error_rate": 0.1,
        "drop_rate": 0.05,
        "slow_body": 0.5,
        "slow_body_rate": 0.25,
        "seed": 42,
        "state_file": "/tmp/x.json",
        "aliases": ["alias/a", "alias/b"],
        "reset_endpoint": True,
        "regions": ["us-west-2"],
        "identities": {"AKIDALICE": ("alice-secret", "arn:aws:iam::123456789012:user/alice")},
        "authorize": False,
        "tls": True,
    }
    LocalKMS(**kwargs)  # every flag is an argument
    for bad in (
        ["--error-rate=2"],
        ["--latency=-1"],
        ["--port=99999"],
        ["--rate-limit=0"],
        ["--identity=AKID:secret"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_parser_maps_the_quota_flags() -> None:
    parser = cli.build_parser(prog="aiokms emulator")
    scaled = cli.emulator_kwargs(parser.parse_args(["--quotas", "0.01"]))
    assert (scaled["quotas"], scaled["rate_limit"], scaled["burst"]) == (0.01, None, None)
    named = cli.emulator_kwargs(
        parser.parse_args(
            [
                "--quota",
                "DescribeKey=10",
                "--quota",
                "Cryptographic operations (symmetric) = 400",
            ]
        )
    )
    assert named["quotas"] == {"DescribeKey": 10.0, "Cryptographic operations (symmetric)": 400.0}
    assert LocalKMS(**named).quota_rates == named["quotas"]
    for bad in (
        ["--quotas", "1", "--rate-limit", "5"],
        ["--quota", "DescribeKey=10", "--quotas", "1"],
        ["--quota", "NoSuchQuota=1"],
        ["--quota", "=1"],
        ["--quota", "DescribeKey=-1"],
        ["--quotas", "0"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_identity_policy_flag_gives_an_identity_its_iam_policies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--identity-policy ACCESS_KEY=PATH``: a file with one IAM policy document or a list
    of them, added to that ``--identity``; an identity without the flag has none given."""
    alice = "arn:aws:iam::123456789012:user/alice"
    one = {"Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]}
    two = {"Statement": [{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}]}
    (tmp_path / "one.json").write_text(json.dumps(one))
    (tmp_path / "two.json").write_text(json.dumps([two]))
    parser = cli.build_parser(prog="aiokms emulator")
    args = parser.parse_args(
        [
            f"--identity=AKIDALICE:s:{alice}",
            "--identity=AKIDBOB:s:arn:aws:iam::123456789012:user/bob",
            f"--identity-policy=AKIDALICE={tmp_path / 'one.json'}",
            f"--identity-policy=AKIDALICE={tmp_path / 'two.json'}",
        ]
    )
    kwargs = cli.emulator_kwargs(args)
    assert kwargs["identities"] == {
        "AKIDALICE": ("s", alice, [one, two]),
        "AKIDBOB": ("s", "arn:aws:iam::123456789012:user/bob"),
    }
    LocalKMS(**kwargs)
    (tmp_path / "bad.json").write_text("[1]")
    for bad in (
        ["--identity-policy=AKIDALICE"],
        [f"--identity-policy=AKIDALICE={tmp_path / 'missing.json'}"],
        [f"--identity-policy=AKIDALICE={tmp_path / 'bad.json'}"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
    unknown = [f"--identity-policy=AKIDCAROL={tmp_path / 'one.json'}"]
    assert cli.main(unknown, prog="aiokms emulator") == 2
    assert "'AKIDCAROL' is not an --identity access key" in capsys.readouterr().err


def test_the_command_refuses_quotas_with_a_burst(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--quotas", "1", "--burst", "5"], prog="aiokms emulator") == 2
    assert "quotas: give quotas, or rate_limit and burst, not both" in capsys.readouterr().err


def test_main_reports_a_bad_state_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "state.json"
    path.write_text("garbage")
    assert cli.main(["--state-file", str(path)], prog="aiokms emulator") == 2
    assert "not a LocalKMS state file" in capsys.readouterr().err


def test_main_reports_a_state_file_it_cannot_write(tmp_path: Path) -> None:
    """Run as ``python -m aiokms.emulator``, with argparse's codes: a state file in a missing
    folder is named as what failed (not as the address), exit 1."""
    state = tmp_path / "missing" / "state.json"
    result = subprocess.run(
        [sys.executable, "-m", "aiokms.emulator", "--state-file", str(state)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": PROJECT_ROOT},
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode() == (
        f"python -m aiokms.emulator: error: state file {state}: No such file or directory\n"
    )


async def test_announcement_formats() -> None:

    async with LocalKMS(
        access_key="AKIDOUT", secret_key="out-secret", session_token="tok"
    ) as local:
        text = io.StringIO()
        cli._announce(local, False, text)
        lines = text.getvalue().splitlines()
        assert lines[0].startswith(f"# LocalKMS ready at {local.endpoint_url}")
        assert lines[1:] == [
            f"export AWS_ENDPOINT_URL_KMS={local.endpoint_url}",
            "export AWS_REGION=us-east-1",
            "export AWS_DEFAULT_REGION=us-east-1",
            "export AWS_ACCESS_KEY_ID=AKIDOUT",
            "export AWS_SECRET_ACCESS_KEY=out-secret",
            "export AWS_SESSION_TOKEN=tok",
        ]
        doc = io.StringIO()
        cli._announce(local, True, doc)
        assert json.loads(doc.getvalue())["endpoint_url"] == local.endpoint_url
        assert json.loads(doc.getvalue())["ca_bundle"] is None
        assert json.loads(doc.getvalue())["quota_rates"] == {}


async def test_the_json_announcement_names_the_quotas_metered() -> None:
    async with LocalKMS(
        quotas={"DescribeKey": 5, "Cryptographic operations (symmetric)": 50}
    ) as local:
        doc = io.StringIO()
        cli._announce(local, True, doc)
        assert json.loads(doc.getvalue())["quota_rates"] == {
            "DescribeKey": 5.0,
            "Cryptographic operations (symmetric)": 50.0,
        }


async def test_announcement_over_tls_names_the_ca_bundle() -> None:
    async with LocalKMS(tls=True) as local:
        text = io.StringIO()
        cli._announce(local, False, text)
        lines = text.getvalue().splitlines()
        assert f"export AWS_ENDPOINT_URL_KMS={local.endpoint_url}" in lines
        assert local.endpoint_url.startswith("https://")
        assert lines[-1] == f"export AWS_CA_BUNDLE={local.ca_bundle}"
        doc = io.StringIO()
        cli._announce(local, True, doc)
        assert json.loads(doc.getvalue())["ca_bundle"] == local.ca_bundle


async def start_command(*flags: str) -> asyncio.subprocess.Process:
    """``python -m aiokms.emulator --alias alias/cli`` with ``flags``, its output piped."""
    return await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "aiokms.emulator", "--alias", "alias/cli", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": PROJECT_ROOT},
    )


async def test_command_with_tls_serves_https_to_a_client_of_its_export_lines() -> None:
    proc = await start_command("--tls")
    try:
        assert proc.stdout is not None and proc.stderr is not None
        exported = {}
        while "AWS_CA_BUNDLE" not in exported:  # the last line
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                exported[name] = value
        assert exported["AWS_ENDPOINT_URL_KMS"].startswith("https://127.0.0.1:")
        with pytest.MonkeyPatch.context() as env:
            for name, value in exported.items():
                env.setenv(name, value)  # what a shell does with the lines
            async with aiokms.KMSClient() as kms:
                dk = await kms.generate_data_key(KeyId="alias/cli", KeySpec="AES_256")
                assert len(dk["Plaintext"]) == 32
        proc.send_signal(signal.SIGTERM)  # this child only, by its PID
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert (await proc.stderr.read()) == b""
        assert not await asyncio.to_thread(Path(exported["AWS_CA_BUNDLE"]).exists)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_command_serves_until_signalled(tmp_path: Path, sig: signal.Signals) -> None:
    state = tmp_path / "state.json"
    proc = await start_command("--json", "--rate-limit", "1000", "--state-file", str(state))
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        ready = json.loads(line)
        assert ready["endpoint_url"].startswith("http://127.0.0.1:")
        creds = aiokms.Credentials(ready["access_key"], ready["secret_key"])
        async with aiokms.KMSClient(
            region_name=ready["region"], endpoint_url=ready["endpoint_url"], credentials=creds
        ) as kms:
            dk = await kms.generate_data_key(KeyId="alias/cli", KeySpec="AES_256")
            assert len(dk["Plaintext"]) == 32
        proc.send_signal(sig)  # this child only, by its PID
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert (await proc.stderr.read()) == b""
        assert json.loads(state.read_text())["credentials"]["access_key"] == creds.access_key
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


_BOTO3_CALL = """\
import boto3
print(boto3.client("kms").describe_key(KeyId="alias/cli")["KeyMetadata"]["Arn"])
"""


def _clean_aws_environment(home: Path) -> dict[str, str]:
    """This environment without AWS settings, and with no shared config or credentials file."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(home / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
        PYTHONPATH=PROJECT_ROOT,
    )
    return env


def test_printed_exports_work_with_the_aws_cli_and_boto3(tmp_path: Path) -> None:
    """A shell that sources the printed lines reaches the emulator with boto3 and ``aws``."""
    env = _clean_aws_environment(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiokms.emulator", "--alias", "alias/cli"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().decode()]
        while lines[-1].startswith(("#", "export")) and "AWS_SECRET_ACCESS_KEY" not in lines[-1]:
            lines.append(proc.stdout.readline().decode())
        exports = tmp_path / "exports.sh"
        exports.write_text("".join(lines))
        assert lines[0].startswith("# LocalKMS ready at http://127.0.0.1:")
        commands = [[sys.executable, "-c", _BOTO3_CALL]]
        aws = os.environ.get("AIOKMS_AWS_CLI") or shutil.which("aws")
        if aws:  # the AWS CLI, v1 where the test tools pin it
            commands.append(
                [
                    aws,
                    "kms",
                    "describe-key",
                    "--key-id",
                    "alias/cli",
                    "--query",
                    "KeyMetadata.Arn",
                    "--output",
                    "text",
                ]
            )
        for command in commands:
            script = f'. {exports} && exec "$@"'
            result = subprocess.run(
                ["sh", "-c", script, "sh", *command],
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
            )
            assert result.returncode == 0, (command[0], result.stderr.decode())
            assert result.stdout.decode().startswith("arn:aws:kms:us-east-1:"), command[0]
    finally:
        proc.send_signal(signal.SIGTERM)  # this child only, by its PID
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


async def test_verbose_logs_one_line_per_request() -> None:
    command = [sys.executable, "-m", "aiokms.emulator", "--json", "--verbose"]
    command += ["--alias", "alias/cli"]
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": PROJECT_ROOT},
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
        creds = aiokms.Credentials(ready["access_key"], ready["secret_key"])
        async with aiokms.KMSClient(
            region_name=ready["region"], endpoint_url=ready["endpoint_url"], credentials=creds
        ) as kms:
            await kms.describe_key(KeyId="alias/cli")
            with pytest.raises(kms.exceptions.NotFoundException):
                await kms.describe_key(KeyId="alias/none")
        proc.send_signal(signal.SIGTERM)  # this child only, by its PID
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        lines = (await proc.stderr.read()).decode().splitlines()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    requests = [
        line.split(" aiokms.emulator.requests ", 1)[1]
        for line in lines
        if " aiokms.emulator.requests " in line
    ]
    assert len(requests) == 2, lines
    assert re.fullmatch(r"DescribeKey 200 \d+\.\d ms", requests[0])
    assert re.fullmatch(r"DescribeKey 400 NotFoundException \d+\.\d ms", requests[1])
