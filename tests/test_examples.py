"""Each example runs with one command against the local KMS it starts, and stops by itself.

The examples are run as a user runs them (``python examples/NAME.py``), with small parameters.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

import aiokms

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str) -> str:
    """Run ``examples/<name>`` to completion; returns its stdout."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", ["Encryptor", "DataKeyCache", "InvalidMessageError"])
def test_the_public_names_the_examples_use_exist(name: str) -> None:
    assert hasattr(aiokms, name), f"aiokms does not export {name}, which the examples use"


def test_web_service_demo() -> None:
    out = run_example("web_service.py", "--requests", "60", "--tenants", "3")
    assert "60 encrypt + decrypt round trips from 3 tenants" in out
    calls = int(re.search(r"KMS calls: (\d+)", out).group(1))  # type: ignore[union-attr]
    assert 0 < calls < 60  # the cache shares data keys between requests
    assert "a message made for tenant a does not decrypt for tenant b: ok" in out
    # tracing on (the SDK is a dev dependency): the requests' spans hold the KMS calls' spans
    line = out.split("spans: ")[1].splitlines()[0]
    spans = {name: int(n) for name, n in (item.rsplit(" ", 1) for item in line.split(", "))}
    assert spans["POST /encrypt"] == spans["POST /decrypt"] == 61
    assert spans["KMS.GenerateDataKey"] + spans["KMS.Decrypt"] == calls
    assert re.search(r"e\.g\. POST /\w+ > KMS\.(GenerateDataKey|Decrypt) \(rpc\.method=", out)


def test_web_service_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "web_service.py"), "--serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        line = process.stdout.readline()
        match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", line)
        assert match, line + process.stderr.read()
        url = match.group(1)
        request = urllib.request.Request(
            f"{url}/encrypt", data=b"hello", headers={"X-Tenant": "a"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            message = reply.read()
        request = urllib.request.Request(
            f"{url}/decrypt", data=message, headers={"X-Tenant": "a"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            assert reply.read() == b"hello"
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
    assert code == 130


def test_pipeline(tmp_path: Path) -> None:
    output = tmp_path / "records.enc"
    out = run_example(
        "pipeline.py",
        "--records",
        "400",
        "--concurrency",
        "8",
        "--tenants",
        "4",
        "--output",
        str(output),
    )
    assert "encrypted 400 records with 8 workers" in out
    assert "decrypted all 400 messages: every record exactly once" in out
    calls = int(re.search(r"KMS calls: (\d+)", out).group(1))  # type: ignore[union-attr]
    assert 4 <= calls < 40  # about one data key per tenant
    assert output.stat().st_size > 400 * 100


def test_load_test() -> None:
    out = run_example(
        "load_test.py", "--duration", "1", "--concurrency", "16", "--rate-limit", "100"
    )
    summary = re.search(r"([\d,]+) data keys in [\d.]+ s", out)
    assert summary and int(summary.group(1).replace(",", "")) > 0, out
    assert re.search(r"latency ms: p50 [\d.]+  p99 [\d.]+  max [\d.]+", out)
    assert re.search(r"requests [\d,]+, throttled [\d,]+, retries [\d,]+", out)


def test_the_readmes_testing_example_passes(tmp_path: Path) -> None:
    """The README's "Testing code that uses aiokms" module runs as a user's test module."""
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing code that uses aiokms", 1)[1]
    module = section.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "test_payments.py").write_text(module, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
