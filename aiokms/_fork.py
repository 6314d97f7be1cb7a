"""What a forked child does with the clients, caches and encryptors it inherits.

A child made by ``os.fork()`` (gunicorn ``--preload``, multiprocessing, Celery's prefork pool)
starts with copies of its parent's objects: a client's pooled sockets and event loop, a cache's
data keys and their budgets. Used as they are, parent and child would share a socket, or spend
one key's budget twice. Every object that holds such state registers here, held weakly, and its
``_after_fork_in_child()`` runs in the child right after the fork, before anything else does.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["register"]


class ForkAware(Protocol):
    def _after_fork_in_child(self) -> None:
        """Drop, without touching, what belongs to the parent."""


_OBJECTS: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def register(obj: ForkAware) -> None:
    """Call ``obj._after_fork_in_child()`` in every child forked while ``obj`` lives."""
    _OBJECTS.add(obj)


def _in_child() -> None:
    for obj in list(_OBJECTS):
        obj._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_in_child)
