"""Every benchmark in bench/ still starts: its imports resolve and its options parse (`--help`).

The benchmarks run by hand, not in the suite, so nothing else notices when a refactoring moves what one
imports (bench/batch_jobs.py stopped starting that way once, unnoticed for a day). Three also run end to
end on a small scale: the registry sync, the instruction count and the mixed load (whose checks are
what it proves).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from tests.support.skipping import unavailable
from tests.support.workers import REDIS_TEST_URL

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(path.name for path in BENCH.glob("*.py") if 'if __name__ == "__main__"' in path.read_text())


def test_the_benchmarks_are_found():
    assert {"accounts.py", "batch_jobs.py", "callbacks.py", "registry_sync.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_benchmark_starts_and_describes_its_options(script):
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:"), done.stdout


@pytest.mark.slow
@pytest.mark.postgres_only
def test_the_registry_benchmark_runs_both_passes_through_the_agencys_json(database_url):
    """bench/registry_sync.py end to end on a small feed (its own database beside the test's): the sync
    through its reader process, the pages through the client's JSON parse; the script checks the counts."""
    own = sa.make_url(database_url).set(database=f"{sa.make_url(database_url).database}_registry_bench")
    done = subprocess.run(
        [sys.executable, str(BENCH / "registry_sync.py"), "--records", "3000", "--json", "--batch-size", "1000",
         "--postgres-url", own.render_as_string(hide_password=False)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    timed = [line for line in done.stdout.splitlines() if "records/s" in line]
    assert [line.split(":")[0] for line in timed] == [
        "floor 1", "full load (all new)", "floor 2", "update pass (all known)", "floor 3",
    ]  # fmt: skip
    assert all("of a reader process" in line for line in timed)
    assert done.stdout.splitlines()[-1].startswith("full load / floor: ")


@pytest.mark.slow
@pytest.mark.postgres_only
def test_the_instruction_count_comes_out_the_same_twice(database_url):
    """bench/instructions.py end to end on a few residents, twice: callgrind counts what the same requests
    cost (the same to a fraction of a per cent, which is what it is for on a VM whose speed swings), and
    the floor, doing less, costs less."""
    if shutil.which("valgrind") is None or shutil.which("cc") is None:
        unavailable("valgrind and a C compiler are not installed (apt-get install valgrind gcc)")
    own = sa.make_url(database_url).set(database=f"{sa.make_url(database_url).database}_instructions_bench")
    command = [sys.executable, str(BENCH / "instructions.py"), "--residents", "40", "--requests", "30",
               "--paths", "account", "--postgres-url", own.render_as_string(hide_password=False)]  # fmt: skip
    counts = []
    for _ in range(2):
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        found = re.search(r"^\| GET /account \| ([\d.]+) M \| ([\d.]+) M \| \*\*([\d.]+)\*\* \|$", done.stdout, re.M)
        assert found, done.stdout
        counts.append([float(value) for value in found.groups()])
    (project, floor, ratio), again = counts
    assert abs(again[0] - project) / project < 0.005 and abs(again[1] - floor) / floor < 0.005, counts
    assert 0 < floor < project and ratio == pytest.approx(floor / project, abs=0.002)


MASTER = """
import subprocess, sys
print("ready", flush=True)
input()
burn = "import time\\nend = time.process_time() + 0.3\\nwhile time.process_time() < end: pass\\ninput()"
worker = subprocess.Popen([sys.executable, "-c", burn], stdin=subprocess.PIPE)
input()
worker.communicate(b"\\n")
"""


def test_cpu_a_request_counts_a_server_and_its_workers(monkeypatch):
    """bench/cpu.py: a server's CPU is its master's and its children's, per request between snapshots:
    here a master that sleeps while its worker burns 0.3 s of CPU."""
    from bench import cpu

    master = subprocess.Popen([sys.executable, "-c", MASTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert master.stdout.readline() == "ready\n"
        monkeypatch.setitem(cpu.SERVERS, "http://server", master.pid)
        before = cpu.snapshot("http://server")
        master.stdin.write("\n")
        master.stdin.flush()
        time.sleep(1.5)  # the worker is done burning, and still alive (waiting on stdin)
        spent = cpu.per_request(before, cpu.snapshot("http://server"), 10)
    finally:
        master.communicate("\n", timeout=10)
    assert set(spent) == {"server", "postgres", "load"}
    assert 30 <= spent["server"] < 90, spent  # 0.3 s and the worker's start-up, over 10 requests


def test_an_earlier_commit_is_checked_out_beside_and_removed_after():
    """bench/harness.checkout: the project at a revision in a git worktree, gone afterwards."""
    from bench import harness

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=BENCH.parent, capture_output=True, text=True, check=True)
    with harness.checkout(head.stdout.strip()) as root:
        assert (root / "wsgi.py").is_file() and (root / "gunicorn.conf.py").is_file()
    assert not root.exists()
    listed = subprocess.run(["git", "worktree", "list"], cwd=BENCH.parent, capture_output=True, text=True, check=True)
    assert str(root) not in listed.stdout


def test_the_summary_gives_the_earlier_commit_its_own_row():
    from bench import harness

    def run(rps: float) -> harness.Result:
        return harness.Result(rps, 1.0, 2.0, 100, notes={"cpu_ms": {"server": 1.0}})

    results = {"project": [run(500)], "floor": [run(1000)], "before": [run(400)]}
    project, before = harness.summary("GET /x", results).splitlines()
    assert "**0.50**" in project and before.startswith("| GET /x (before) |") and "**0.40**" in before
    assert harness.summary("GET /x", {"project": [run(500)], "floor": [run(1000)]}).count("\n") == 0


@pytest.mark.slow
@pytest.mark.postgres_only
def test_the_mixed_load_places_orders_through_the_sandbox_and_checks_what_every_request_wrote(database_url):
    """bench/mixed.py end to end for a few seconds (its own database beside the test's, this worker's
    Redis database): orders placed through the sandbox's registry and tax bureau over HTTP beside
    lookups, verifications and callbacks; afterwards each placing resident has one registered order and
    every payment is credited once. Its p99 verdict may go either way in a few seconds on a shared box."""
    try:
        redis.Redis.from_url(REDIS_TEST_URL).ping()
    except redis.RedisError:
        unavailable("no Redis at 127.0.0.1:6379")
    own = sa.make_url(database_url).set(database=f"{sa.make_url(database_url).database}_mixed_bench")
    out = _finished(
        [sys.executable, str(BENCH / "mixed.py"), "--minutes", "0.05", "--residents", "50", "--redis", REDIS_TEST_URL,
         "--database", own.render_as_string(hide_password=False)],
    )  # fmt: skip
    assert re.search(r"^verdict +(PASS|FAIL) ", out, re.M), out
    assert re.search(r"^callbacks \d+ payments credited; .*: exactly once$", out, re.M), out
    placed = re.search(r"^orders +(\d+) placed; (\d+) orders of theirs, (\d+) registered: one each", out, re.M)
    assert placed and int(placed[1]) > 0 and placed[1] == placed[2] == placed[3], out
    assert re.search(r"^sustained .*, 0 failed of \d+$", out, re.M), out
    assert re.search(r"^p99 by kind \(ms\): .*place \d", out, re.M), out
    assert re.search(r"^slowest s \d+ s: p50 [\d.]+ ms.* \(idle p50 [\d.]+ ms\)$", out, re.M), out


def _finished(command: list[str], timeout: float = 300) -> str:
    """The output (stdout, then stderr) of a benchmark run to its end; on a timeout the benchmark and
    the servers it started are killed, not left running."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        raise AssertionError(f"{command[1]} ran over {timeout} s:\n{out}\n{err}") from None
    return out + err
