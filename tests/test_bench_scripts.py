"""Every benchmark in bench/ still starts: its imports resolve and its options parse (`--help`).

The benchmarks run by hand, not in the suite, so nothing else notices when a refactoring moves what one
imports (bench/batch_jobs.py stopped starting that way once, unnoticed for a day).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
