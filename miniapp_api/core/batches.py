"""The one way a batch command runs (API.md Operations): batches with a commit each, progress on a
terminal, `--dry-run`, and one JSON summary line at the end.

A command hands `run()` an iterable of batches (usually `id_batches()`: keyset pages of ids, read one
page at a time after the previous batch committed) and a function doing one batch's work inside the
open transaction and returning its counts (`{"credited": 3, "amount_fen": 1200}`: names ending in
`_fen` are fen totals). Each batch commits on its own, so a crash loses at most the batch in flight
and no row lock outlives its batch. A rerun continues because the work is idempotent per row (unique
constraints, ON CONFLICT DO NOTHING, "not yet done" filters): rows already done count zero.

With `dry_run` every batch is computed the same way and then rolled back: the summary says what a
real run would do now, and nothing is written.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

import click
from sqlalchemy import ColumnElement, Select, text

from miniapp_api.core.metrics import batch_job
from models import db

DEFAULT_BATCH_SIZE = 2000
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Summary:
    """What a run did (or, dry, would do): batches and the summed counts of every batch."""

    command: str
    dry_run: bool = False
    fields: dict[str, Any] = field(default_factory=dict)  # the run's parameters, e.g. {"year": 2027}
    batches: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def add(self, counts: Mapping[str, int]) -> None:
        self.batches += 1
        self.counts.update({name: int(value) for name, value in counts.items()})

    def __getitem__(self, name: str) -> int:
        return self.counts[name]

    def as_dict(self) -> dict[str, Any]:
        head = {"command": self.command, "dry_run": self.dry_run, **self.fields, "batches": self.batches}
        return {**head, **dict(sorted(self.counts.items())), "seconds": round(time.monotonic() - self.started, 3)}

    def line(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, sort_keys=False)


def id_batches(statement: Select, key: ColumnElement[int], size: int = DEFAULT_BATCH_SIZE) -> Iterator[list[int]]:
    """Keyset pages of `key` (ascending) from `statement` (a select of that one column): each page is read
    when the previous batch is done, so rows that change meanwhile are seen as they are then."""
    after: int | None = None
    while True:
        page = statement if after is None else statement.where(key > after)
        ids = list(db.session.scalars(page.order_by(key).limit(size)))
        if not ids:
            return
        yield ids
        after = ids[-1]


def each_batch(summary: Summary, batches: Iterable[T], work: Callable[[T], Mapping[str, int]]) -> Iterator[Summary]:
    """Do and commit (dry: roll back) one batch at a time; yields the summary after each one. A caller
    can stop between batches (a test does): nothing is held open then. However the run ends, the
    batches' iterator is closed (a generator's cleanup runs now, not when a traceback lets go of it)."""
    pending = iter(batches)
    try:
        for batch in pending:
            _do(summary, work, batch)
            yield summary
    finally:
        if isinstance(pending, Generator):
            pending.close()


def _do(summary: Summary, work: Callable[[T], Mapping[str, int]], batch: T) -> None:
    try:
        _without_jit()
        counts = work(batch)
    except BaseException:
        db.session.rollback()
        raise
    if summary.dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    summary.add(counts)


def _without_jit() -> None:
    """PostgreSQL's JIT compiles a batch's statements for longer than they run (1.2 s of 1.6 s measured on
    an interest batch): off for the batch's transaction."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))


def run(
    summary: Summary, batches: Iterable[T], work: Callable[[T], Mapping[str, int]], out: IO[str] | None = None
) -> Summary:
    """Every batch, with progress on a terminal, then the one JSON summary line on `out` (stdout)."""
    out = out or sys.stdout
    terminal = out.isatty()
    for done in each_batch(summary, batches, work):
        if terminal:
            out.write(f"\r{progress(done)}")
            out.flush()
    if terminal and summary.batches:
        out.write("\n")
    click.echo(summary.line(), file=out)
    return summary


def progress(summary: Summary) -> str:
    counts = ", ".join(f"{name} {value}" for name, value in sorted(summary.counts.items()))
    return f"{summary.command}: batch {summary.batches}{', ' if counts else ''}{counts}"


def batch_command(job: str, *, success_codes: tuple[int, ...] = (0,)) -> Callable[[F], F]:
    """`--dry-run` and `--batch-size` on a batch command (passed as `dry_run`, `batch_size`); a real run
    records its metrics (core/metrics.batch_job), a dry run does not."""

    def decorate(command: F) -> F:
        measured = batch_job(job, success_codes=success_codes)(command)

        @functools.wraps(command)
        def choose(*args: Any, **kwargs: Any) -> Any:
            return (command if kwargs["dry_run"] else measured)(*args, **kwargs)

        with_size = click.option(
            "--batch-size",
            type=click.IntRange(1, 100_000),
            default=DEFAULT_BATCH_SIZE,
            show_default=True,
            help="Rows per batch; each batch commits on its own.",
        )(choose)
        return click.option(  # type: ignore[return-value]
            "--dry-run", is_flag=True, help="Compute and print what would be done; write nothing."
        )(with_size)

    return decorate
