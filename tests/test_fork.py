"""The fork hook (``aiokms._fork``): registered objects hear of a fork in the child only, and are
never kept alive by it. What clients and caches do then is tested with them."""

from __future__ import annotations

import gc
import os
import weakref

from aiokms import _fork


class Inherited:
    def __init__(self) -> None:
        self.forked = 0

    def _after_fork_in_child(self) -> None:
        self.forked += 1


def test_a_registered_object_hears_of_the_fork_in_the_child_only() -> None:
    obj = Inherited()
    _fork.register(obj)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it saw, then leave at once
        os.close(read)
        os.write(write, str(obj.forked).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        seen_in_child = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert seen_in_child == b"1"
    assert obj.forked == 0


def test_registering_keeps_nothing_alive() -> None:
    obj = Inherited()
    _fork.register(obj)
    ref = weakref.ref(obj)
    del obj
    gc.collect()
    assert ref() is None
