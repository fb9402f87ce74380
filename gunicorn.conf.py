"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py 'miniapp_api:create_app()'`.

gunicorn also reads this file on its own when started from the checkout's root (`./gunicorn.conf.py`);
command-line options still win over what is set here.

Environment:
  WEB_CONCURRENCY  worker processes (default 2 x cores + 1; cores = usable CPUs, capped by a cgroup quota)
  BIND             address(es) to listen on, comma-separated, e.g. `0.0.0.0:8000` or `unix:/run/api.sock`
  PORT             port on all interfaces when BIND is not set (default 8000)
  PROMETHEUS_MULTIPROC_DIR
                   a folder (emptied before gunicorn starts, writable by every worker) where each worker
                   writes its metrics, so that `GET /metrics` adds up all workers (prometheus_client's
                   multiprocess mode). Export it in the environment itself, not here: prometheus_client reads
                   it on import. Give the `flask ...` batch commands the same folder so that their
                   `batch_job_*` gauges reach the scrape (emptying the folder at a deploy forgets them until
                   each job runs again). Without it, a scrape shows only the worker that answered it.

Logs: every line gunicorn writes is one JSON object on stderr, in the shape of the app's own lines
(`miniapp_api.core.logs.JsonFormatter`: ts, level, logger, message, request_id), masked the same way.
Access lines (logger `gunicorn.access`) add method, path, status, bytes, duration_ms and remote_addr;
the path never carries the query string (it may hold personal data), and request_id is the
`X-Request-ID` the app echoed in its response.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import sys
from pathlib import Path

from gunicorn import glogging

from miniapp_api.core.logs import JsonFormatter


def _usable_cores() -> int:
    """CPUs this process may run on, capped by a cgroup v2 quota (`docker run --cpus`, compose `cpus:`)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(cores, 1)


def _workers() -> int:
    given = os.environ.get("WEB_CONCURRENCY", "").strip()
    if not given:
        return 2 * _usable_cores() + 1
    if not given.isdigit() or int(given) < 1:
        raise ValueError(f"WEB_CONCURRENCY must be a positive whole number, not {given!r}")
    return int(given)


def _bind() -> list[str]:
    given = os.environ.get("BIND", "").strip()
    if given:
        return [address.strip() for address in given.split(",") if address.strip()]
    return [f"0.0.0.0:{os.environ.get('PORT', '').strip() or '8000'}"]


# Sync workers (gunicorn's default): one request at a time per process; a request waiting on WeChat, the
# identity check or the tax bureau holds its worker, so the worker count bounds concurrency per box.
workers = _workers()
bind = _bind()

# Each outbound call of the app has an overall deadline of about 10 s; a worker silent for longer than
# `timeout` is killed (the proxy then answers 502). 30 s leaves room for a slow outbound call plus the
# request's own work; a request that chains several calls (real-name binding: WeChat, the identity check,
# the registry) can still reach it when every counterpart runs into its deadline at once.
# `graceful_timeout` lets a request in flight finish on SIGTERM (deploys, scale-down).
timeout = 30
graceful_timeout = 30
# Sync workers close every connection after its response, so this only matters with the gthread or an
# async worker class: then 75 s outlasts nginx's upstream keepalive_timeout (60 s by default), and the
# proxy, not gunicorn, closes an idle kept-alive connection (no request lost on a connection just closed).
keepalive = 75

# The heartbeat file on tmpfs: an overlay or network filesystem can stall it and get workers killed.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# forwarded_allow_ips is deliberately left at gunicorn's default (loopback, or FORWARDED_ALLOW_IPS): the
# client address and scheme come from the app itself, werkzeug's ProxyFix trusting exactly PROXY_FIX_HOPS
# proxies (miniapp_api/core/__init__.py), so gunicorn must not trust X-Forwarded-* from anyone on its own.

# No control socket (gunicorn 25+ makes one under $HOME): in a container nothing uses it, and signals
# (HUP reload, TTIN/TTOU workers, TERM) do the same.
control_socket_disable = True

proc_name = "pension-api"
accesslog = "-"
errorlog = "-"
loglevel = "info"
# The access line's `message`; the structured fields are added by JsonLogger. No %(r)s or %(q)s:
# they carry the query string.
access_log_format = "%(m)s %(U)s %(s)s"


class _Atoms(dict):
    """gunicorn's log atoms, '-' for a missing one; header atoms match whatever their case."""

    def __missing__(self, key: str) -> str:
        lowered = key.lower()
        return dict.get(self, lowered, "-") if lowered != key else "-"


class AccessJsonFormatter(JsonFormatter):
    """The app's JSON line plus the request's fields (`record.access`), masked like every other line."""

    def entry(self, record: logging.LogRecord) -> dict:
        return {**super().entry(record), **getattr(record, "access", {})}


class JsonLogger(glogging.Logger):
    """gunicorn's logger writing the app's JSON lines, access lines included, all on stderr."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log, formatter in ((self.error_log, JsonFormatter()), (self.access_log, AccessJsonFormatter())):
            for handler in log.handlers:
                if not getattr(handler, "_gunicorn", False):
                    continue
                handler.setFormatter(formatter)
                # gunicorn writes `accesslog = "-"` to stdout; the app and gunicorn's errors go to stderr.
                if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
                    handler.setStream(sys.stderr)

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        try:
            atoms = _Atoms(self.atoms(resp, req, environ, request_time))
            request_id = atoms["{x-request-id}o"]
            status = atoms["s"]
            fields = {
                "method": atoms["m"],
                "path": atoms["U"],
                "status": int(status) if str(status).isdigit() else status,
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 2),
                # After the app ran: werkzeug's ProxyFix has put the client's address here (PROXY_FIX_HOPS).
                "remote_addr": environ.get("REMOTE_ADDR"),
            }
            self.access_log.info(
                self.cfg.access_log_format,
                atoms,
                extra={"request_id": None if request_id == "-" else request_id, "access": fields},
            )
        except Exception:
            self.exception("could not write the access log line")


logger_class = JsonLogger


def post_worker_init(worker) -> None:
    """The loaded app (about 180,000 objects: modules, the app, its schemas and mappers) kept out of the
    worker's garbage collections. A full collection walks every object and took 43-53 ms in a worker,
    every request on that worker waiting meanwhile: the tail of a sustained load (docs/performance.md,
    "Sustained mixed load"). What requests create afterwards is collected as before."""
    gc.freeze()


def child_exit(server, worker) -> None:
    """A worker ended: drop its live metrics files (multiprocess mode, PROMETHEUS_MULTIPROC_DIR)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
