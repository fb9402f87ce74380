"""CPU time per request, by process: the server's (gunicorn and its workers), PostgreSQL's (all of its
processes: whatever else the cluster did meanwhile counts too) and the load generator's (this
process and its finished children, e.g. `wrk`), read from /proc.

On a box where they share the cores, the rates of project and floor follow their CPU per request;
these figures say where a request's time goes, and they move far less between rounds than the rates.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
SERVERS: dict[str, int] = {}  # base URL → gunicorn master's pid (harness.gunicorn fills it)


def snapshot(base: str) -> dict[str, float]:
    """Seconds of CPU so far of the server at `base`, of PostgreSQL and of the load generator."""
    return {"server": _tree(SERVERS[base]), "postgres": _postgres(), "load": _load()}


def per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """Milliseconds of CPU per request, by process, between two snapshots."""
    return {name: (after[name] - before[name]) * 1000 / max(requests, 1) for name in before}


def _tree(pid: int) -> float:
    return sum(_cpu(p) for p in (pid, *_children(pid)))


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found


def _postgres() -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _command(entry).startswith(b"postgres"):
            total += _cpu(int(entry.name))
    return total


def _load() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _command(entry: Path) -> bytes:
    try:
        return (entry / "cmdline").read_bytes()
    except OSError:
        return b""


def _cpu(pid: int) -> float:
    """utime + stime of a live process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK
