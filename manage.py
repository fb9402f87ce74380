#!/usr/bin/env python3
"""Set-up for a fresh machine with only Python 3.11+: builds `.venv`, installs the locked
dependencies (hash-checked, from requirements.lock or requirements-test.lock) and the project
itself when pyproject.toml or that lock changes, then runs what was asked.

    python3 manage.py demo    # API + sandbox with demo data on the embedded defaults (SQLite)
    python3 manage.py test    # the whole test suite (add pytest arguments after `test`)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
# Every transitive dependency pinned with its hashes (docs/packaging.md says how to regenerate them):
# the demo needs the service's alone, the tests add their tooling (pytest, browser, decoders, linters).
LOCKS = {"demo": ROOT / "requirements.lock", "test": ROOT / "requirements-test.lock"}


def ensure_environment(command: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (this script runs under any python3)
        sys.exit("Python 3.11 or newer is needed")
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    lock = LOCKS[command]
    stamp = VENV / f".installed-{command}-{_fingerprint(lock)}"
    if not stamp.exists():
        print(f"installing the locked dependencies ({lock.name}) ...", flush=True)
        pip = [str(BIN / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "--require-hashes", "-r", str(lock)], check=True)
        subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
        for old in VENV.glob(f".installed-{command}-*"):
            old.unlink()
        stamp.touch()


def _fingerprint(lock: Path) -> str:
    """Changes when the project's metadata or the lock does, so either change reinstalls."""
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", lock):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def parallel(args: list[str]) -> list[str]:
    """One pytest-xdist worker per core, each test module kept on one worker (its processes start once),
    unless the arguments choose otherwise (`-n 0` runs in this process)."""
    chosen = any(arg == "-n" or arg.startswith(("-n", "--numprocesses")) for arg in args)
    return [] if chosen else ["-n", "auto", "--dist", "loadfile"]


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command not in ("demo", "test"):
        print(__doc__)
        return 2
    ensure_environment(command)
    os.chdir(ROOT)
    python = str(BIN / "python")
    # exec, not a child: Ctrl-C and the exit status belong to the demo or pytest itself.
    if command == "test":
        os.execv(python, [python, "-m", "pytest", *parallel(argv[1:]), *argv[1:]])
    os.execv(python, [python, "-m", "flask", "--app", "wsgi", "demo", *argv[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
