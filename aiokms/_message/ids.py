"""Message IDs: 32 random bytes each, drawn from the operating system in batches.

A message ID is the HKDF salt that gives each message a key of its own, so it must come from
the OS's CSPRNG and never repeat. ``os.urandom`` is a system call: about 1 µs per message
when each ID is drawn alone, about as much as the rest of a small message's framing. Drawing
4 KiB at a time makes it one call per 128 messages. IDs are public (every header carries its
own), so holding the next ones in memory reveals nothing.

A batch must never hand out an ID twice:

* threads: IDs come out of an iterator that slices each from the batch as it is taken
  (``map`` of ``bytes.__getitem__`` over fixed slices); ``next`` on it runs no Python code
  and never releases the GIL, so each ID is taken once whichever thread asks. Two threads
  that find the batch empty at once each draw a new one; the IDs left in the one replaced
  are never used.
* fork: a child process would inherit its parent's batch, and with it the parent's next IDs,
  while it also inherits the cached data keys. ``os.register_at_fork`` empties the batch in
  the child, which then draws its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from aiokms._message.suites import MESSAGE_ID_LEN

__all__ = ["new_message_id"]

BATCH = 128  # IDs per system call
# Where each ID of a batch lies: IDs are sliced off one at a time, as they are taken.
_SLICES = tuple(
    slice(i, i + MESSAGE_ID_LEN) for i in range(0, MESSAGE_ID_LEN * BATCH, MESSAGE_ID_LEN)
)


class _Batch:
    """The IDs drawn but not yet handed out."""

    __slots__ = ("ids",)

    def __init__(self) -> None:
        self.ids: Iterator[bytes] = iter(())

    def take(self) -> bytes:
        message_id = next(self.ids, None)
        if message_id is None:
            ids = map(os.urandom(MESSAGE_ID_LEN * BATCH).__getitem__, _SLICES)
            self.ids = ids
            message_id = next(ids)
        return message_id

    def drop(self) -> None:
        self.ids = iter(())


_batch = _Batch()
if hasattr(os, "register_at_fork"):  # every platform that can fork
    os.register_at_fork(after_in_child=_batch.drop)

new_message_id = _batch.take
"""A fresh, random 32-byte message ID."""
