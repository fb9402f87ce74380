#!/usr/bin/env python3
"""Set-up for a fresh machine with only Python 3.11+: builds `.venv`, installs the pinned
dependencies when pyproject.toml changes, then runs what was asked.

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


def ensure_environment() -> None:
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is needed")
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{_fingerprint()}"
    if not stamp.exists():
        print("installing pinned dependencies ...", flush=True)
        subprocess.run([str(BIN / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-e", f"{ROOT}[test]"], check=True)
        stamp.touch()


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command not in ("demo", "test"):
        print(__doc__)
        return 2
    ensure_environment()
    os.chdir(ROOT)
    python = str(BIN / "python")
    # exec, not a child: Ctrl-C and the exit status belong to the demo or pytest itself.
    if command == "test":
        os.execv(python, [python, "-m", "pytest", *argv[1:]])
    os.execv(python, [python, "-m", "flask", "--app", "wsgi", "demo", *argv[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
