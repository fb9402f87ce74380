"""`flask --app wsgi registry sync`: apply the agency's change feed from the stored cursor (§3a)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from integrations.errors import UpstreamError
from miniapp_api.core import batches, clients
from miniapp_api.registry import reader, sync


@click.group("registry")
def cli() -> None:
    """The agency registry's change feed (INTEGRATIONS.md §3a)."""


@cli.command("sync")
@with_appcontext
@batches.batch_command("registry_sync")
def sync_command(dry_run: bool, batch_size: int) -> None:
    """Apply the feed from the stored cursor, one committed batch per `--batch-size` changes (feed pages of
    at most 1000, as many as make up a batch)."""
    summary = batches.Summary("registry sync", dry_run=dry_run)
    pages = sync.batches(clients.agency(), batch_size, dry_run)
    try:
        batches.run(summary, pages, sync.apply)
    except (UpstreamError, sync.ConcurrentSync, reader.ReaderStopped) as error:
        # what was committed stays; a rerun continues
        raise click.ClickException(f"{error} after {summary.batches} committed batches") from None
