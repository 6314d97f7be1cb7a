"""Fixtures of the LocalKMS tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aiokms.emulator import LocalKMS


@pytest.fixture
async def local() -> AsyncIterator[LocalKMS]:
    async with LocalKMS() as server:
        yield server
