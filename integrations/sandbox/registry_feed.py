"""The sandbox agency's change feed (INTEGRATIONS.md §3a): an append-only log of whole records.

It starts with one change per demo resident (seq 1, 2, ...) and grows by what a test or the demo
adds through `POST /agency/sandbox/changes` (a death, a category change, a new resident, a departure
as record null). The cursor is the last seq of a page as text; the log is only ever appended to,
so the same `after` always returns the same changes.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from dataclasses import dataclass

from . import demo_data


class BadCursor(ValueError):
    """`after` is not a cursor this feed handed out."""


@dataclass(frozen=True)
class Entry:
    seq: int
    id_number: str
    record: dict | None


class FeedLog:
    def __init__(self, today: dt.date):
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self._latest: dict[str, Entry] = {}
        for person in demo_data.DEMO_RESIDENTS:
            self.append(person["id_number"], demo_data.registry_record(person["id_number"], today))
        self.loaded = len(self._entries)  # the demo residents' own entries; later ones were added

    def append(self, id_number: str, record: dict | None) -> int:
        """Add a change (the person's whole record, or None: left the province); returns its seq."""
        with self._lock:
            entry = Entry(len(self._entries) + 1, id_number, copy.deepcopy(record))
            self._entries.append(entry)
            self._latest[id_number] = entry
            return entry.seq

    def added(self, id_number: str) -> Entry | None:
        """The person's latest change if one was added after the demo load, else None."""
        with self._lock:
            entry = self._latest.get(id_number)
        return entry if entry is not None and entry.seq > self.loaded else None

    def current(self, id_number: str) -> dict | None:
        """The person's latest record (None if unknown or departed), for a merge of changed fields."""
        with self._lock:
            entry = self._latest.get(id_number)
        return None if entry is None else copy.deepcopy(entry.record)

    def page(self, after: str | None, limit: int) -> dict:
        """§3a's body for the changes after `after`."""
        start = _seq_of(after)
        with self._lock:
            if start > len(self._entries):
                raise BadCursor(after)
            entries = self._entries[start : start + limit]
            more = start + len(entries) < len(self._entries)
        cursor = str(entries[-1].seq) if entries else after
        return {"changes": [_change(e) for e in entries], "cursor": cursor, "more": more}


def _seq_of(after: str | None) -> int:
    if after is None:
        return 0
    if not after.isdigit():
        raise BadCursor(after)
    return int(after)


def _change(entry: Entry) -> dict:
    return {"seq": entry.seq, "id_number": entry.id_number, "record": copy.deepcopy(entry.record)}
