"""A small asyncio load generator for what `wrk` cannot do: send each request exactly once, or keep a
fixed rate (open loop: requests start on schedule whether or not earlier ones finished).

Requests are raw HTTP/1.1 bytes with `Connection: close` (gunicorn's sync workers close anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.harness import Result

TIMEOUT = 30.0
WINDOW = 10  # seconds: the sustained run's p99 is also given per window of its schedule


@dataclass(frozen=True)
class Request:
    raw: bytes
    label: str = ""


def http(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"", label: str = "") -> Request:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return Request(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body, label)


async def _send(host: str, port: int, request: Request) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT)
        writer.write(request.raw)
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)
        writer.close()
        status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    except (TimeoutError, OSError, ValueError, IndexError):
        status = 0
    return status, time.perf_counter() - started


def _result(latencies: list[float], statuses: Counter, seconds: float, labels: dict | None = None) -> Result:
    ordered = sorted(latencies) or [0.0]
    ok = sum(count for status, count in statuses.items() if 200 <= status < 300)
    return Result(
        rps=len(latencies) / seconds,
        p50=statistics.median(ordered) * 1000,
        p99=ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
        requests=len(latencies),
        failures=len(latencies) - ok,
        notes={"statuses": dict(statuses), **({"labels": labels} if labels else {})},
    )


def once(base: str, requests: Sequence[Request], connections: int) -> Result:
    """Every request exactly once, `connections` at a time (closed loop)."""
    with _frozen_heap():
        return asyncio.run(_once(base, requests, connections))


async def _once(base: str, requests: Sequence[Request], connections: int) -> Result:
    url = urlsplit(base)
    queue = iter(requests)
    latencies, statuses = [], Counter()

    async def worker() -> None:
        for request in queue:
            status, took = await _send(url.hostname or "127.0.0.1", url.port or 80, request)
            statuses[status] += 1
            latencies.append(took)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return _result(latencies, statuses, time.perf_counter() - started)


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """What exists before the clock starts (the prepared requests, the caller's data) kept out of the
    generator's garbage collections: full collections over it paused this process 100-160 ms at a time
    in a one-minute sustained run, stretching every request in flight and bunching the schedule."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def at_rate(base: str, requests: Sequence[Request], rate: float) -> Result:
    """The requests in order, started `rate` a second on schedule (open loop); in notes, the p99 per label
    and per WINDOW seconds of the schedule (a backlog shows as a run of high windows, a slow path as
    one label), and the median of each second (a stall of the whole box shows as seconds whose median
    request is slow, every kind alike)."""
    with _frozen_heap():
        return asyncio.run(_at_rate(base, requests, rate))


async def _at_rate(base: str, requests: Sequence[Request], rate: float) -> Result:
    url = urlsplit(base)
    by_label: dict[str, list[float]] = {}
    by_second: dict[int, list[float]] = {}
    latencies, statuses = [], Counter()

    async def one(request: Request, second: int) -> None:
        status, took = await _send(url.hostname or "127.0.0.1", url.port or 80, request)
        statuses[status] += 1
        latencies.append(took)
        by_label.setdefault(request.label, []).append(took)
        by_second.setdefault(second, []).append(took)

    started = time.perf_counter()
    tasks: set[asyncio.Task] = set()
    for number, request in enumerate(requests):
        delay = started + number / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(request, int(number / rate)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    labels = {label: _result(values, Counter(), 1).p99 for label, values in by_label.items()}
    by_window: dict[int, list[float]] = {}
    for second in sorted(by_second):
        by_window.setdefault(second // WINDOW, []).extend(by_second[second])
    result = _result(latencies, statuses, time.perf_counter() - started, labels)
    result.notes["windows"] = [_result(by_window[w], Counter(), 1).p99 for w in sorted(by_window)]
    result.notes["seconds"] = {second: statistics.median(took) * 1000 for second, took in by_second.items()}
    return result
