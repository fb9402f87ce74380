"""Benchmark: the instructions a lookup costs the worker's Python, project against floor, counted by callgrind.

    .venv/bin/python bench/instructions.py [--residents 2000] [--requests 300] [--before REVISION]
        [--paths account ledger] [--postgres-url URL] [--keep]

The rates of `bench/accounts.py` swing by a third between runs on a shared VM, so a change of a few per
cent of a request does not show there. The instructions a process executes do not depend on what else
the machine does: valgrind's callgrind counts them, and the same command twice agrees to about 0.1 %.

Each side runs in a process of its own under `valgrind --tool=callgrind`: it builds its app (the
project's `create_app`, at this checkout or at `--before`, or the floor `bench/floors/accounts.py`),
calls it as a WSGI app with `--requests` prepared requests (each resident with their own bearer token)
once to warm up, then once more between two callgrind client requests (a C helper of four lines, built
with `cc`) that start and stop the count. Counted is the worker's own work only: not gunicorn's, not
PostgreSQL's, not the kernel's (`bench/accounts.py` measures all of it). Needs valgrind with its
headers (Debian's `valgrind` package) and a C compiler.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELPER = r"""
#include <valgrind/callgrind.h>
void count_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; CALLGRIND_TOGGLE_COLLECT; }
void count_stop(void) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT("measured"); }
"""
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/pension_bench16i"


# ---- one side, in its own process under callgrind -----------------------------------------------------


def side(spec: dict) -> None:
    """Build the side's app, warm it up, and count its requests between the helper's marks."""
    sys.path.insert(0, spec["root"])
    app, environs = _app_and_requests(spec)
    _serve(app, environs)
    marks = ctypes.CDLL(spec["helper"])
    marks.count_start()
    _serve(app, environs)
    marks.count_stop()


def _app_and_requests(spec: dict):
    from werkzeug.test import EnvironBuilder

    paths = [f"/api/v1/residents/{public_id}/{spec['path']}" for public_id, _ in spec["requests"]]
    if spec["side"] == "floor":
        os.environ.update(spec["floor_env"])
        from bench.floors.accounts import app

        headers = [{"Authorization": spec["floor_authorization"]}] * len(paths)
    else:
        from miniapp_api import create_app
        from miniapp_api.identity import tokens

        app = create_app(spec["config"])
        logging.getLogger().setLevel(logging.WARNING)  # as bench/accounts.py's in-process requests
        with app.app_context():
            headers = [{"Authorization": f"Bearer {tokens.issue(user)[0]}"} for _, user in spec["requests"]]
    return app, [
        _as_gunicorn(EnvironBuilder(path=path, headers=h).get_environ()) for path, h in zip(paths, headers, strict=True)
    ]


def _as_gunicorn(environ: dict) -> dict:
    """What gunicorn adds to every request's environ (a body ends where the server says, even a GET's)."""
    return environ | {"wsgi.input_terminated": True}


def _serve(app, environs: list[dict]) -> None:
    def start_response(status, headers, exc_info=None):
        if not status.startswith("200"):
            raise SystemExit(f"{status} from the app")

    for environ in environs:
        body = app(dict(environ), start_response)
        b"".join(body)
        getattr(body, "close", lambda: None)()


# ---- the run: seed, then every side and path --------------------------------------------------------


def counted(spec: dict, folder: Path) -> int:
    """Instructions of `spec`'s measured pass (its side's process under callgrind)."""
    name = f"{spec['side']}-{spec['path']}"
    (folder / f"{name}.json").write_text(json.dumps(spec))
    out = folder / f"{name}.callgrind"
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no"]
    command += [f"--callgrind-out-file={out}", sys.executable, __file__, "--side", str(folder / f"{name}.json")]
    done = subprocess.run(command, cwd=spec["root"], env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True)
    if done.returncode:
        raise SystemExit(f"{name} failed:\n{done.stderr.decode()[-3000:]}")
    return int(re.search(r"^totals: (\d+)", Path(f"{out}.1").read_text(), re.M).group(1))


def built_helper(folder: Path) -> str:
    source, library = folder / "marks.c", folder / "marks.so"
    source.write_text(HELPER)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return str(library)


def specs(args, url: str, keys: dict, folder: Path, before: Path | None) -> list[dict]:
    """Every side's run for every path, on the same residents and requests."""
    from bench import accounts, harness

    app = harness.migrated_app(url, keys, accounts.NOW)
    public_ids = accounts.seed(app, args.residents, accounts.PAID_YEARS)
    chosen = accounts.pick(public_ids, min(args.requests, len(public_ids)), random.Random(7))
    requests = [(public_id, user) for user, public_id in chosen]
    sizes = {path: _body_size(app, path, chosen[0]) for path in args.paths}
    config = {"APP_ENV": "testing", "DATABASE_URL": url, "APP_NOW": accounts.NOW, **keys}
    floor_env = {"DATABASE_URL": url, **{f"FLOOR_{p.upper()}_BYTES": str(size) for p, size in sizes.items()}}
    common = {"requests": requests, "config": config, "helper": built_helper(folder), "floor_env": floor_env}
    common["floor_authorization"] = "Bearer " + "x" * 200  # the floor reads no token, but gets one as long
    sides = {"project": ROOT, "floor": ROOT, **({"before": before} if before else {})}
    return [{**common, "side": s, "root": str(root), "path": p} for p in args.paths for s, root in sides.items()]


def _body_size(app, path: str, chosen: tuple[int, str]) -> int:
    from bench import accounts

    user, public_id = chosen
    [headers] = accounts.headers_for(app, [user])
    response = app.test_client().get(f"/api/v1/residents/{public_id}/{path}", headers=headers)
    return len(response.get_data())


def report(results: dict[tuple[str, str], int], requests: int, paths: list[str], before: str | None) -> str:
    head = "| path | project | floor | floor ÷ project |" + (f" `{before}` | change |" if before else "")
    lines = [head, "|---|---:|---:|---:|" + ("---:|---:|" if before else "")]
    for path in paths:
        project, floor = results["project", path] / requests, results["floor", path] / requests
        line = f"| GET /{path} | {project / 1e6:.3f} M | {floor / 1e6:.3f} M | **{floor / project:.3f}** |"
        if before:
            earlier = results["before", path] / requests
            line += f" {earlier / 1e6:.3f} M, {floor / earlier:.3f} | {100 * (project / earlier - 1):+.1f} % |"
        lines.append(line)
    return "\n".join(lines)


def run(args) -> None:
    from bench import harness
    from miniapp_api.core import devkeys

    with tempfile.TemporaryDirectory(prefix="bench_instructions_") as name:
        folder = Path(name)
        keys = {key: make(folder) for key, make in devkeys.GENERATORS.items()}
        earlier = harness.checkout(args.before) if args.before else contextlib.nullcontext(None)
        with harness.fresh_database(args.postgres_url, args.keep) as url, earlier as before:
            every = specs(args, url, keys, folder, before)
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                counts = list(pool.map(lambda spec: counted(spec, folder), every))
    results = {(spec["side"], spec["path"]): count for spec, count in zip(every, counts, strict=True)}
    requests = len(every[0]["requests"])
    print(f"\ninstructions a request (callgrind, {requests} requests after as many to warm up):\n")
    print(report(results, requests, args.paths, args.before))


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--paths", nargs="+", default=["account", "ledger"], choices=["account", "ledger"])
    parser.add_argument("--before", help="also count this earlier commit (a temporary git worktree)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="database to drop, create and drop")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # a side's own process (its spec file)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.side:
        side(json.loads(Path(args.side).read_text()))
        return
    sys.path.insert(0, str(ROOT))
    run(args)


if __name__ == "__main__":
    main()
