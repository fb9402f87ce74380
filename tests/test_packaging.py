"""The wheel is the service (docs/packaging.md).

Fast checks: pyproject.toml lists every package of the checkout, and the lock files pin, with hashes
and nothing machine-specific, exactly what pyproject.toml pins. The slow test builds the wheel from a
copy of the checkout, installs it with the locked dependencies into a fresh virtualenv and runs it from
an empty directory: migrations, the API, its docs page and the certificate verification page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
import requests

from miniapp_api.core.config import ENV_KEYS
from policy.data import load_standards
from tests.support.skipping import unavailable
from tests.support.waiting import free_port, stop, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOTS = ("miniapp_api", "models", "policy", "integrations")
# Folders that stay at the top of the checkout but travel inside the package.
CARRIED = {"static": "miniapp_api/static", "migrations": "miniapp_api/migrations"}
RUNTIME_LOCK = ROOT / "requirements.lock"
TEST_LOCK = ROOT / "requirements-test.lock"
# What a fresh clone does not have, or what a build leaves behind.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    "build",
    "dist",
    "instance",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".ruff_cache",
    ".mypy_cache",
    ".pytest_cache",
    "node_modules",
    "out",
)


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _skipped(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix == ".pyc" or path.name.startswith(".")


def _checkout_packages() -> set[str]:
    """Every folder of Python modules under the package roots, as a dotted package name."""
    found = set()
    for top in PACKAGE_ROOTS:
        for module in (ROOT / top).rglob("*.py"):
            if not _skipped(module):
                found.add(".".join(module.parent.relative_to(ROOT).parts))
    return found


def _wheel_paths() -> set[str]:
    """Every file of the checkout the wheel must carry, by its path inside the wheel."""
    paths = set()
    for top in (*PACKAGE_ROOTS, *CARRIED):
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and not _skipped(path.relative_to(ROOT)):
                inside = path.relative_to(ROOT / top).as_posix()
                paths.add(f"{CARRIED.get(top, top)}/{inside}")
    return paths


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", requirement).lower()


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^;\s]+)", requirement.strip())
        assert match, f"pyproject.toml pins exactly: {requirement!r}"
        pins[_name(match[1])] = match[3]
    return pins


def _locked(lock: Path) -> dict[str, str]:
    """name → version of a lock file, checking that every pin carries hashes and nothing local."""
    text = lock.read_text(encoding="utf-8")
    for forbidden in ("file:", "/opt/", "/work/", "--index-url", "--extra-index-url", "--find-links", "-e "):
        assert forbidden not in text, f"{lock.name} mentions {forbidden!r}: a lock names packages only"
    locked = {}
    # An entry is a line that starts with a name, and the indented lines after it (hashes, comments).
    for first, rest in re.findall(r"^([A-Za-z0-9][^\n]*)((?:\n[ \t][^\n]*)*)", text, re.M):
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+) \\", first)
        assert match, f"{lock.name}: not an exact pin: {first!r}"
        assert "--hash=sha256:" in rest, f"{lock.name}: {match[1]} has no hash"
        locked[_name(match[1])] = match[2]
    assert locked, f"{lock.name} pins nothing"
    return locked


def test_pyproject_lists_every_package_of_the_checkout():
    setuptools = _pyproject()["tool"]["setuptools"]
    carried = setuptools["package-dir"]
    folders = {dotted: ROOT / carried.get(dotted, dotted.replace(".", "/")) for dotted in setuptools["packages"]}
    missing = {dotted: str(folder) for dotted, folder in folders.items() if not folder.is_dir()}
    assert not missing, f"listed packages without a folder: {missing}"
    with_code = {dotted for dotted, folder in folders.items() if dotted not in carried and any(folder.glob("*.py"))}
    assert with_code == _checkout_packages(), "list every package folder in [tool.setuptools] packages"
    for folder, inside in CARRIED.items():
        assert carried[inside.replace("/", ".")] == folder


def test_the_locks_pin_what_pyproject_pins_with_hashes():
    project = _pyproject()["project"]
    runtime = _pins(project["dependencies"])
    testing = _pins(project["optional-dependencies"]["test"])
    locked, locked_for_tests = _locked(RUNTIME_LOCK), _locked(TEST_LOCK)
    assert {name: locked.get(name) for name in runtime} == runtime, "regenerate requirements.lock"
    assert {name: locked_for_tests.get(name) for name in {**runtime, **testing}} == {**runtime, **testing}, (
        "regenerate requirements-test.lock"
    )
    assert not testing.keys() & locked.keys(), "the service's lock must not carry the test tooling"
    assert {name: locked_for_tests[name] for name in locked} == locked, "the two locks disagree"


def _run(command: list[str], timeout: float, **kwargs) -> str:
    """Run to completion; on failure the assertion shows what the command said."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    output = f"{result.stdout}\n{result.stderr}".strip()
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{output[-4000:]}"
    return output


def _build_wheel(tmp_path: Path) -> Path:
    """Build from a copy of the work tree, as from a fresh clone: no stale build/ can leak in."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE, symlinks=True)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)], timeout=180)
    (wheel,) = dist.glob("*.whl")
    return wheel


def _fresh_venv(folder: Path) -> Path:
    try:
        import ensurepip  # noqa: F401
    except ImportError:
        unavailable("this Python has no ensurepip to give a new virtualenv its pip")
    venv.EnvBuilder(with_pip=True).create(folder)
    return folder / "bin"


def _service_environment(database: Path) -> dict[str, str]:
    """The machine's environment without the project's settings or this checkout, then development."""
    drop = {*ENV_KEYS, "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "FLASK_APP", "FLASK_DEBUG", "TEST_DATABASE_URL"}
    environment = {key: value for key, value in os.environ.items() if key not in drop}
    environment.update(APP_ENV="development", DATABASE_URL=f"sqlite:///{database}", PYTHONDONTWRITEBYTECODE="1")
    return environment


# Run by the installed Python: where the code and its data come from, and the policy data it reads.
PROBE = """
import json
from pathlib import Path
import integrations.sandbox, miniapp_api
from miniapp_api.core import paths
from policy.data import STANDARDS_DIR, load_standards
demo_policy = Path(integrations.sandbox.__file__).with_name("demo_policy.json")
print(json.dumps({
    "package": miniapp_api.__file__, "static": str(paths.STATIC), "migrations": str(paths.MIGRATIONS),
    "policy_data": str(STANDARDS_DIR), "standards": [s.name for s in load_standards().standards],
    "demo_policy": str(demo_policy), "with_demo": [s.name for s in load_standards([demo_policy]).standards],
}))
"""


def _migration_head() -> str:
    """The checkout's newest revision: the one no other revision follows."""
    revisions, followed = set(), set()
    for script in (ROOT / "migrations" / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        revisions |= set(re.findall(r"^revision\s*=\s*['\"]([^'\"]+)", text, re.M))
        followed |= set(re.findall(r"^down_revision\s*=\s*['\"]([^'\"]+)", text, re.M))
    (head,) = revisions - followed
    return head


@pytest.mark.slow
def test_the_installed_wheel_runs_the_service_from_an_empty_directory(tmp_path):
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        carried = set(archive.namelist())
    missing = sorted(_wheel_paths() - carried)
    assert not missing, f"the wheel lacks {missing}"

    bin_ = _fresh_venv(tmp_path / "venv")
    pip = [str(bin_ / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, "--require-hashes", "-r", str(RUNTIME_LOCK)], timeout=300)
    _run([*pip, "--no-deps", str(wheel)], timeout=120)

    empty = tmp_path / "empty"
    empty.mkdir()
    database = tmp_path / "pension.sqlite3"
    environment = _service_environment(database)
    site_packages = _run(
        [str(bin_ / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        timeout=30,
        cwd=empty,
        env=environment,
    ).splitlines()[-1]

    # The code, the carried folders and the policy data all come from the installed package.
    probe = json.loads(
        _run([str(bin_ / "python"), "-c", PROBE], timeout=60, cwd=empty, env=environment).splitlines()[-1]
    )
    installed = Path(site_packages)
    assert Path(probe["package"]).parent == installed / "miniapp_api"
    assert Path(probe["static"]) == installed / "miniapp_api" / "static"
    assert Path(probe["migrations"]) == installed / "miniapp_api" / "migrations"
    assert Path(probe["policy_data"]) == installed / "policy" / "standards"
    assert Path(probe["demo_policy"]).parent == installed / "integrations" / "sandbox"
    assert probe["standards"] == [s.name for s in load_standards().standards] != []
    assert set(probe["with_demo"]) >= set(probe["standards"])

    _run([str(bin_ / "flask"), "--app", "miniapp_api", "db", "upgrade"], timeout=120, cwd=empty, env=environment)
    with sqlite3.connect(database) as connection:
        (head,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert head == _migration_head()
    assert len(tables) > 5, tables

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(bin_ / "gunicorn"), "miniapp_api:create_app()", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            cwd=empty,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_until_up(f"{base}/healthz", server, timeout=60)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log.read_text(errors='replace')[-4000:]}") from None
        _assert_serves(base)
    finally:
        stop(server)


def _assert_serves(base: str) -> None:
    health = requests.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}, health.text
    ready = requests.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"]["schema"] == "ok", ready.text

    spec = requests.get(f"{base}/api/v1/openapi.json", timeout=10)
    assert spec.status_code == 200, spec.text
    assert spec.json()["openapi"].startswith("3") and spec.json()["paths"]

    docs = requests.get(f"{base}/api/v1/docs", timeout=10)
    assert docs.status_code == 200 and docs.headers["Content-Type"].startswith("text/html"), docs.text[:500]
    assert "<html" in docs.text.lower() and "/api/v1/" in docs.text

    page = requests.get(f"{base}/verify/anything", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html"), page.text[:500]
    assert page.text == (ROOT / "static" / "verify.html").read_text(encoding="utf-8")

    script = requests.get(f"{base}/verify/assets/verify.js", timeout=10)
    assert script.status_code == 200, script.text[:500]
    assert script.content == (ROOT / "static" / "verify.js").read_bytes()
