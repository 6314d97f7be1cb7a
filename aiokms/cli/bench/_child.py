"""The emulator ``aiokms bench --emulator`` load-tests: LocalKMS in a child process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any

from aiokms.cli._common import FAILURE, CommandError
from aiokms.cli.bench._args import BENCH_ALIAS

__all__ = ["EmulatorChild"]

_START_TIMEOUT = 30.0
# the KMS quota every operation bench runs counts against (GenerateDataKey, Encrypt and Decrypt
# with the symmetric key it makes)
_QUOTA = "Cryptographic operations (symmetric)"


class EmulatorChild:
    """The emulator in a child process: its own core, stopped (SIGTERM) when the run ends.

    ``quota`` is the rate, requests/s, of the emulator's quota the operations count against
    (``--rate-limit``, or the symmetric cryptographic operations' under ``--quotas`` or
    ``--quota``), or None when it meters none.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._process: asyncio.subprocess.Process | None = None
        self.endpoint_url = ""
        self.region = ""
        self.credentials: Any = None
        self.quota: float | None = None

    async def __aenter__(self) -> EmulatorChild:
        from aiokms import Credentials

        argv = [sys.executable, "-m", "aiokms.emulator", "--json", "--alias", BENCH_ALIAS]
        if self._args.region:
            argv += ["--region", self._args.region]
        from aiokms.emulator.__main__ import FAULT_FLAGS

        for name in ("rate_limit", "burst", "quotas", *FAULT_FLAGS):
            value = getattr(self._args, name)
            if value is not None:
                argv += [f"--{name.replace('_', '-')}", repr(value)]
        for quota, rate in self._args.quota or ():
            argv += ["--quota", f"{quota}={rate!r}"]
        self._process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            # out of the terminal's process group: Ctrl-C stops the load, and the emulator
            # keeps serving until the report is made, then gets SIGTERM
            start_new_session=True,
        )
        assert self._process.stdout is not None
        try:
            line = await asyncio.wait_for(self._process.stdout.readline(), _START_TIMEOUT)
            ready = json.loads(line)
            self.endpoint_url = ready["endpoint_url"]
            self.region = ready["region"]
            self.credentials = Credentials(
                ready["access_key"], ready["secret_key"], ready.get("session_token")
            )
            self.quota = self._args.rate_limit or ready["quota_rates"].get(_QUOTA)
        except (asyncio.TimeoutError, ValueError, KeyError, TypeError):
            await self._stop()
            raise CommandError(
                "--emulator: the emulator did not start (see the messages above)", FAILURE
            ) from None
        except BaseException:  # cancelled (SIGTERM) while it starts: no __aexit__ will stop it
            await self._stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop()

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5.0)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
