"""Calls released at the same instant, for tests of races (row locks, unique constraints)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def at_once(calls: Sequence[Callable[[], T]], timeout: float = 60.0) -> list[T]:
    """Run each call in its own thread, all released together by a barrier; their results in the order
    they finished. Each thread is waited for at most `timeout` seconds."""
    barrier, results, lock = threading.Barrier(len(calls)), [], threading.Lock()

    def run(call: Callable[[], T]) -> None:
        barrier.wait()
        result = call()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results
