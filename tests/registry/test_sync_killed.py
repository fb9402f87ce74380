"""`registry sync` killed for real (SIGKILL of a separate process) after two committed batches, then
rerun: it continues from the stored cursor and ends where an uninterrupted run ends, and the killed
run's reader process (and the process that forked it) end of themselves."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from integrations.sandbox import demo_data
from miniapp_api.registry.reader import READER_NAME
from models import RegistryCursor, db
from tests.support.constants import ROOT
from tests.support.registry import own_agency, state, sync
from tests.support.waiting import wait_until

DEMO = demo_data.DEMO_RESIDENTS
PAGE = 4
# The console script deploy/run-job calls: the reader re-imports it, as multiprocessing does a parent's main.
FLASK = str(Path(sys.executable).parent / "flask")
SYNC_ARGS = ["registry", "sync", "--batch-size", str(PAGE)]


@pytest.fixture
def stalling_agency():
    """A sandbox agency whose third feed request waits until released: the sync reads a batch ahead, so
    it then applies its second batch and waits for its third; `reached` is set when that request arrives,
    `release` lets it be answered."""
    reached, release, calls = threading.Event(), threading.Event(), []

    def stall(feed_request):
        calls.append(feed_request.args.get("after"))
        if len(calls) == 3:
            reached.set()
            release.wait(30)

    with own_agency(on_feed_request=stall) as url:
        yield url, reached, release, calls
        release.set()


@pytest.fixture
def app(make_app, stalling_agency):
    return make_app(AGENCY_API_BASE=stalling_agency[0])


def processes_of(run: str) -> list[int]:
    """The pids of the processes whose environment carries SYNC_RUN=`run` (the sync and what it started)."""
    marker, found = f"SYNC_RUN={run}".encode(), []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # ended meanwhile, or not ours
            continue
    return found


def cursor(app) -> str | None:
    with app.app_context():
        row = db.session.get(RegistryCursor, "agency")
        return None if row is None else row.cursor


@pytest.mark.slow
def test_a_killed_sync_continues_from_its_last_committed_batch(app, stalling_agency, tmp_path):
    url, reached, release, calls = stalling_agency
    config = {key: str(value) for key, value in app.config.items() if key.isupper() and isinstance(value, str)}
    run = uuid.uuid4().hex
    env = {**os.environ, **config, "AGENCY_API_BASE": url, "PYTHONPATH": str(ROOT), "SYNC_RUN": run}
    log = tmp_path / "sync.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [FLASK, "--app", "wsgi", "registry", "sync", "--batch-size", str(PAGE)],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        assert reached.wait(60), log.read_text(errors="replace")
        wait_until(lambda: cursor(app) == str(2 * PAGE), timeout=30, what="the second batch committed")
    finally:
        process.kill()
        process.wait(30)
    assert calls == [None, str(PAGE), str(2 * PAGE)]
    assert processes_of(run)  # the reader, stalled on its third read, outlives the sync for now
    release.set()  # answered, it finds nobody to hand the batch to
    wait_until(lambda: not processes_of(run), timeout=30, what="the killed sync's reader to end")
    assert len(state(app)) == 2 * PAGE
    assert cursor(app) == str(2 * PAGE)
    rerun = sync(app, "--batch-size", str(PAGE))
    assert calls[3] == str(2 * PAGE) and rerun["created"] == len(DEMO) - 2 * PAGE
    resumed = state(app)
    assert sorted(row[-1] for row in resumed) == list(range(1, len(DEMO) + 1))  # each change applied once
    with app.app_context():
        db.session.execute(sa.delete(RegistryCursor))
        db.session.commit()
    assert sync(app)["unchanged"] == len(DEMO) and state(app) == resumed


@pytest.mark.slow
def test_a_reader_killed_mid_run_fails_the_sync_cleanly_and_a_rerun_continues(app, stalling_agency):
    _, reached, release, calls = stalling_agency
    outcome: dict = {}
    run = threading.Thread(target=lambda: outcome.update(result=app.test_cli_runner().invoke(args=SYNC_ARGS)))
    run.start()
    try:
        assert reached.wait(60)  # the reader waits on its third read; the sync applies the second batch
        (reader,) = [child for child in multiprocessing.active_children() if child.name == READER_NAME]
        os.kill(reader.pid, signal.SIGKILL)
    finally:
        release.set()
        run.join(60)
    result = outcome["result"]
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "reader ended without handing over its batch after 2 committed batches" in result.output
    assert cursor(app) == str(2 * PAGE)
    assert sync(app, "--batch-size", str(PAGE))["created"] == len(DEMO) - 2 * PAGE
