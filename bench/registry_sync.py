"""Benchmark: `registry sync` applying 1,000,000 change-feed records on PostgreSQL, with its floor.

    .venv/bin/python bench/registry_sync.py [--records 1000000] [--batch-size 2000] [--postgres-url URL] [--json]

The feed is an in-process fake (`SyntheticFeed`): it hands `registry sync` the parsed pages the agency
client would (`integrations.agency.ChangePage` of `RegistryRecord`s, 1000 per page, §3a's maximum),
generated on the fly, so no HTTP and no JSON parsing are timed (the client's parse is measured apart,
per record: it runs in the reader process). With `--json` every page (the floor's too) comes as the
agency's JSON text and is parsed as the client parses it (`json.loads`, `parse_page`): what a sync
reading the real feed does, but for HTTP (the text is rendered from cached templates: cheap).
The sync runs exactly as the command does:
`registry.sync.batches` (pages of 1000, as many as make up `--batch-size`, read ahead by its reader
process, to which the feed is handed pickled) + `sync.apply` through `core.batches.each_batch`, one
committed transaction per batch.

Timed runs on a fresh database, floor and project alternating (floor, full load, floor, update pass,
floor):
- full load: N people new to the backend (each ID number encrypted, blind index, COPY);
- update pass: a newer change for each of the same N people (categories, paid years): found by blind
  index through the staging upsert, their row, public id and ciphertext kept;
- floor: the same N rows, built the same way (encryption and blind index included), COPY'd into an
  empty copy of the residents table (`LIKE residents INCLUDING ALL`: same indexes), one transaction
  per batch, in one thread: the least a full load does, in one process (the sync, its reader process
  building rows on the other core, can beat it).
Each prints records/s and the peak RSS so far (`ru_maxrss`) of this process and of the largest reader
process; the last line, each pass against the faster of the floors run on either side of it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench import harness  # noqa: E402
from integrations.agency import Change, ChangePage, RegistryRecord, parse_page, parse_record  # noqa: E402
from miniapp_api.core import batches, devkeys  # noqa: E402
from miniapp_api.core.pii import cipher  # noqa: E402
from miniapp_api.registry import sync  # noqa: E402
from models import db, dispose_engines  # noqa: E402
from models.resident import new_public_ids  # noqa: E402
from policy import id_number  # noqa: E402

NOW = "2027-03-02T10:00:00+08:00"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/pension_h13_bench"
BIRTH_DAYS = 20000  # born from 1950-01-01 over 20000 days
REGIONS = (
    ("140105", "太原市小店区"),
    ("140121", "太原市清徐县"),
    ("140213", "大同市平城区"),
    ("140802", "运城市盐湖区"),
)
NAMES = ("王建国", "李秀英", "张伟", "刘桂兰", "陈志强", "杨丽", "赵国华", "郝玉梅")
CATEGORIES = ((), ("dibao",), (), ("low_income",), (), ("tekun",), (), ())


def person_id(i: int) -> str:
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=i % BIRTH_DAYS)
    region = REGIONS[i % len(REGIONS)][0]
    return id_number.make(region, birth, i // BIRTH_DAYS)


_TEMPLATES: dict[tuple[int, int], RegistryRecord] = {}


def record(i: int, number: str, revision: int) -> RegistryRecord:
    """The i-th person's record: a cached template (every field but the ID number repeats every
    BIRTH_DAYS people) with the ID number set, so that making the feed costs little."""
    key = (i % BIRTH_DAYS, revision)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = make_record(i, number, revision)
    found = object.__new__(RegistryRecord)  # a shallow copy without copy.copy's pickling detour (4 µs)
    found.__dict__.update(_TEMPLATES[key].__dict__, id_number=number)
    return found


def make_record(i: int, number: str, revision: int) -> RegistryRecord:
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=i % BIRTH_DAYS)
    region, region_name = REGIONS[i % len(REGIONS)]
    return RegistryRecord(
        id_number=number,
        name=NAMES[i % len(NAMES)],
        gender="M" if (i // BIRTH_DAYS) % 2 else "F",
        birth_date=birth,
        region_code=region,
        region_name=region_name,
        paid_years=frozenset(range(2019, 2026 + revision)),
        receiving=birth.year < 1962,
        categories=frozenset(CATEGORIES[(i + revision) % len(CATEGORIES)]),
        supporter_capable=True,
        supporters=(),
        registration_updated_on=dt.date(2026, 12, 1) + dt.timedelta(days=revision),
        deceased_on=None,
    )


class SyntheticFeed:
    """§3a pages over `numbers`, seq continuing from `first_seq`; record revision `revision`. With `as_json`
    each page comes as the agency's JSON text (records rendered from cached templates, so the agency's
    share costs little) and is parsed as the client parses it (`json.loads`, `parse_page`)."""

    def __init__(self, numbers: list[str], revision: int, first_seq: int, as_json: bool = False):
        self.numbers, self.revision, self.first_seq, self.as_json = numbers, revision, first_seq, as_json

    def changes(self, after: str | None = None, limit: int = 500) -> ChangePage:
        start = 0 if after is None else int(after) - self.first_seq + 1
        stop = min(start + limit, len(self.numbers))
        cursor = str(self.first_seq + stop - 1) if stop > start else after
        if self.as_json:
            return parse_page(json.loads(self.page_text(start, stop, cursor)))
        changes = tuple(
            Change(self.first_seq + i, self.numbers[i], record(i, self.numbers[i], self.revision))
            for i in range(start, stop)
        )
        return ChangePage(changes, cursor, stop < len(self.numbers))

    def page_text(self, start: int, stop: int, cursor: str | None) -> str:
        entries = ",".join(
            f'{{"seq": {self.first_seq + i}, "id_number": "{self.numbers[i]}", "record": '
            f"{record_text(i % BIRTH_DAYS, self.revision).replace(PLACEHOLDER, self.numbers[i])}}}"
            for i in range(start, stop)
        )
        more = json.dumps(stop < len(self.numbers))
        return f'{{"changes": [{entries}], "cursor": {json.dumps(cursor)}, "more": {more}}}'


PLACEHOLDER = "@ID@"


@functools.lru_cache(maxsize=2 * BIRTH_DAYS)
def record_text(i: int, revision: int) -> str:
    """The §3 JSON of the i-th person's record (alike every BIRTH_DAYS people), PLACEHOLDER for the ID number."""
    return json.dumps(record_body(make_record(i, PLACEHOLDER, revision)), ensure_ascii=False)


def record_body(record: RegistryRecord) -> dict:
    """The §3 JSON of a record, as the agency sends it."""
    return {
        "id_number": record.id_number, "name": record.name, "gender": record.gender,
        "birth_date": record.birth_date.isoformat(), "region_code": record.region_code,
        "region_name": record.region_name,
        "basic_pension": {"paid_years": sorted(record.paid_years), "receiving": record.receiving},
        "categories": sorted(record.categories), "supporter_capable": record.supporter_capable, "supporters": [],
        "registration_updated_on": record.registration_updated_on and record.registration_updated_on.isoformat(),
        "deceased_on": None,
    }  # fmt: skip


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


READER_PEAK_MB = [0.0]  # the largest reader process's peak RSS seen so far


def note_reader_peak() -> None:
    """The reader is forked by multiprocessing's forkserver, not by this process: getrusage does not see
    it, its /proc status does (VmHWM, its peak RSS so far)."""
    for child in multiprocessing.active_children():
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{child.pid}/status").read_text()
            kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
            READER_PEAK_MB[0] = max(READER_PEAK_MB[0], kib / 1024)


def report(label: str, records: int, seconds: float) -> float:
    rate = records / seconds
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    reader = READER_PEAK_MB[0]
    print(f"{label}: {records} records in {seconds:.1f} s = {rate:,.0f} records/s; peak RSS so far "
          f"{peak_rss_mb():.0f} MB, of a reader process {reader:.0f} MB; load average {load}", flush=True)  # fmt: skip
    return rate


def run_sync(app, feed: SyntheticFeed, size: int) -> batches.Summary:
    with app.app_context():
        summary = batches.Summary("registry sync")
        for _ in batches.each_batch(summary, sync.batches(feed, size), sync.apply):
            note_reader_peak()
        return summary


def timed_floor(app, numbers: list[str], page: int, run: int, as_json: bool) -> float:
    started = time.perf_counter()
    floor(app, numbers, page, as_json)
    return report(f"floor {run}: build + COPY", len(numbers), time.perf_counter() - started)


def floor(app, numbers: list[str], page: int, as_json: bool) -> None:
    """Build the same rows (encrypted, indexed) and COPY them into an empty twin of the residents table."""
    with app.app_context():
        db.session.execute(sa.text("DROP TABLE IF EXISTS floor_residents"))
        db.session.execute(sa.text("CREATE TABLE floor_residents (LIKE residents INCLUDING ALL)"))
        db.session.execute(sa.text(f"ALTER TABLE floor_residents SET ({storage_options()})"))  # LIKE leaves them
        db.session.commit()
        feed = SyntheticFeed(numbers, 0, 1, as_json)
        after = None
        while True:
            changes = feed.changes(after, page)
            rows = floor_rows(changes.changes)
            copy_rows(rows)
            if not changes.more:
                break
            after = changes.cursor


def storage_options() -> str:
    """The residents table's storage parameters (its fillfactor), for the floor's twin table."""
    query = "SELECT array_to_string(reloptions, ', ') FROM pg_class WHERE relname = 'residents'"
    return db.session.scalar(sa.text(query)) or "fillfactor = 100"


def floor_rows(changes: tuple[Change, ...]) -> list[tuple]:
    """A page's rows: public ids and nonces drawn once a page, as the sync does."""
    tokens = cipher().encrypt_many([change.id_number for change in changes])
    return [floor_row(change, token, public_id) for change, token, public_id in
            zip(changes, tokens, new_public_ids(len(changes)), strict=True)]  # fmt: skip


def floor_row(change: Change, token: str, public_id: str) -> tuple:
    r = change.record
    assert r is not None
    return (
        public_id, token, cipher().blind_index(change.id_number),
        r.name, r.gender, r.birth_date, r.region_code, r.region_name, json.dumps(sorted(r.categories)),
        r.supporter_capable, r.receiving, json.dumps(sorted(r.paid_years)), r.registration_updated_on,
        r.deceased_on, True, change.seq, dt.datetime.now(dt.timezone.utc),
    )  # fmt: skip


FLOOR_COLUMNS = (
    "public_id, id_number_encrypted, id_number_index, name, gender, birth_date, region_code, region_name, categories, "
    "supporter_capable, receiving_basic_pension, basic_pension_paid_years, registration_updated_on, deceased_on, "
    "enrolled, registry_seq, registry_synced_at"
)


def copy_rows(rows: list[tuple]) -> None:
    connection = db.session.connection().connection.driver_connection
    with connection.cursor() as cursor, cursor.copy(f"COPY floor_residents ({FLOOR_COLUMNS}) FROM STDIN") as out:
        for row in rows:
            out.write_row(row)
    db.session.commit()


def parse_cost_us(numbers: list[str], samples: int = 20000) -> float:
    """What the agency client adds per record: parsing the §3 JSON (json.loads included)."""
    bodies = [json.dumps(record_body(record(i, n, 0))) for i, n in enumerate(numbers[:samples])]
    started = time.perf_counter()
    for body in bodies:
        parse_record(json.loads(body))
    return (time.perf_counter() - started) / len(bodies) * 1e6


def count_residents(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.text("SELECT count(*) FROM residents"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=batches.DEFAULT_BATCH_SIZE, help="the command's --batch-size")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="database to drop, create, fill, drop")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--json", action="store_true", help="the feed's pages dumped to JSON and parsed by the client")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench_registry_"))
    try:
        keys = {name: make(folder) for name, make in devkeys.GENERATORS.items()}
        with harness.fresh_database(args.postgres_url, args.keep) as url:
            app = harness.migrated_app(url, keys, NOW)
            started = time.perf_counter()
            numbers = [person_id(i) for i in range(args.records)]
            print(f"{args.records} ID numbers made in {time.perf_counter() - started:.1f} s (not timed below)")
            with app.app_context():
                print(f"agency client parse: {parse_cost_us(numbers):.1f} µs per record (not in the runs below)")
            n = args.records
            floors = [timed_floor(app, numbers, args.batch_size, 1, args.json)]
            started = time.perf_counter()
            summary = run_sync(app, SyntheticFeed(numbers, 0, 1, args.json), args.batch_size)
            full = report("full load (all new)", n, time.perf_counter() - started)
            assert summary["created"] == n == count_residents(app), summary.as_dict()
            floors.append(timed_floor(app, numbers, args.batch_size, 2, args.json))
            started = time.perf_counter()
            summary = run_sync(app, SyntheticFeed(numbers, 1, n + 1, args.json), args.batch_size)
            update = report("update pass (all known)", n, time.perf_counter() - started)
            assert summary["updated"] == n, summary.as_dict()
            floors.append(timed_floor(app, numbers, args.batch_size, 3, args.json))
            # Against the faster of the floors on either side: the VM's speed drifts within minutes.
            ratios = full / max(floors[:2]), update / max(floors[1:])
            print("full load / floor: {:.2f}; update pass / floor: {:.2f}".format(*ratios))
            with app.app_context():
                dispose_engines()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
