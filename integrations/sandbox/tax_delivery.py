"""Callback delivery of the sandbox tax bureau: signed POSTs to `notify_url`, retried on the real schedule.

Each event gets its own daemon thread that sleeps through `SCHEDULE` (divided by `SANDBOX_SPEEDUP`),
so a slow receiver or a long wait never blocks a pay request or another event.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from .. import tax_signature

log = logging.getLogger(__name__)

# Waits before each retry, in seconds: 15 s, 15 s, 30 s, 3 min, 10 min, 20 min, 30 min ×3, 60 min, 3 h ×3, 6 h ×2.
SCHEDULE: tuple[int, ...] = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600)
DEFAULT_SERIAL = "sandbox-1"
SEND_TIMEOUT = (3.05, 10.0)
Status = int | str  # an HTTP status, "dropped", or "error: <exception name>"


@dataclass(frozen=True)
class Callback:
    """One event to deliver; `body` is the exact JSON bytes that are signed and sent."""

    notify_url: str
    out_order_no: str
    event_id: str
    body: bytes


@dataclass(frozen=True)
class Signer:
    serial: str
    key: rsa.RSAPrivateKey


class SandboxClock:
    """`SANDBOX_NOW` plus the real time elapsed since it was first read; real now when it is not set.

    `SANDBOX_CLOCK_FROZEN` (truthy) keeps it at `SANDBOX_NOW` exactly, like the API's `APP_NOW`.
    """

    def __init__(self, config: Mapping):
        self.config = config
        self._lock = threading.Lock()
        self._anchor: tuple[str, dt.datetime, float] | None = None

    def now(self) -> dt.datetime:
        text = self.config.get("SANDBOX_NOW")
        if not text:
            return dt.datetime.now(dt.timezone.utc)
        start, since = self._anchored(text)
        if self.config.get("SANDBOX_CLOCK_FROZEN"):
            return start
        return start + dt.timedelta(seconds=time.monotonic() - since)

    def timestamp(self) -> int:
        return int(self.now().timestamp())

    def _anchored(self, text: str) -> tuple[dt.datetime, float]:
        with self._lock:
            if self._anchor is None or self._anchor[0] != text:
                self._anchor = (text, _instant(text), time.monotonic())
            return self._anchor[1], self._anchor[2]


def _instant(text: str) -> dt.datetime:
    instant = dt.datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise ValueError(f"SANDBOX_NOW {text!r} has no UTC offset")
    return instant


class SandboxKeys:
    """The signing key: the PEM at `SANDBOX_TAX_PRIVATE_KEY` when configured, else one made in memory."""

    def __init__(self, config: Mapping):
        self.config = config
        self._lock = threading.Lock()
        self._cache: tuple[str | None, rsa.RSAPrivateKey] | None = None

    def signer(self) -> Signer:
        return Signer(self.config.get("SANDBOX_TAX_KEY_SERIAL") or DEFAULT_SERIAL, self._key())

    def public_keys(self) -> dict[str, str]:
        """`{serial: PEM}`, the content of the API's `TAX_PUBLIC_KEYS` file."""
        signer = self.signer()
        return {signer.serial: tax_signature.public_pem(signer.key)}

    def _key(self) -> rsa.RSAPrivateKey:
        path = self.config.get("SANDBOX_TAX_PRIVATE_KEY") or None
        with self._lock:
            if self._cache is None or self._cache[0] != path:
                key = tax_signature.load_private_key(path) if path else tax_signature.generate_private_key()
                self._cache = (path, key)
            return self._cache[1]


class Faults:
    """Injected failures: drop the next n attempts unsent, or send the next n successes twice."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = {"drop_next": 0, "duplicate_next": 0}

    def set(self, **counts: int) -> dict[str, int]:
        with self._lock:
            self._counts.update(counts)
            return dict(self._counts)

    def take(self, name: str) -> bool:
        """Use up one of `name`; False when none is left."""
        with self._lock:
            if self._counts[name] <= 0:
                return False
            self._counts[name] -= 1
            return True


def speedup(config: Mapping) -> float:
    raw = config.get("SANDBOX_SPEEDUP")
    value = 1.0 if raw in (None, "") else float(raw)
    if value <= 0:
        raise ValueError("SANDBOX_SPEEDUP must be positive")
    return value


class Deliverer:
    """Sends callbacks in background threads and records every attempt."""

    def __init__(self, config: Mapping, keys: SandboxKeys, clock: SandboxClock):
        self.config = config
        self.keys = keys
        self.clock = clock
        self.faults = Faults()
        self._lock = threading.Lock()
        self._attempts: list[dict] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def schedule(self, callback: Callback) -> None:
        """Start delivering now; returns at once."""
        thread = threading.Thread(
            target=self._run, args=(callback,), daemon=True, name=f"tax-callback-{callback.event_id}"
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def attempts(self, out_order_no: str | None = None) -> list[dict]:
        with self._lock:
            return [dict(a) for a in self._attempts if out_order_no in (None, a["out_order_no"])]

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel pending retries and wait (bounded) for attempts in flight."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))

    def _run(self, callback: Callback) -> None:
        try:
            for attempt, wait in enumerate((0, *SCHEDULE), 1):
                if self._stopping.wait(wait / speedup(self.config)):
                    return
                if self._attempt(callback, attempt):
                    return
        except Exception:  # a daemon thread has nobody to raise to
            log.exception("delivery of %s stopped", callback.event_id)

    def _attempt(self, callback: Callback, attempt: int) -> bool:
        """One scheduled attempt (plus an injected duplicate); True when the receiver answered 200."""
        if self.faults.take("drop_next"):
            self._record(callback, attempt, "dropped")
            return False
        status = self._send(callback)
        self._record(callback, attempt, status)
        if status == 200 and self.faults.take("duplicate_next"):
            self._record(callback, attempt, self._send(callback), duplicate=True)
        return status == 200

    def _send(self, callback: Callback) -> Status:
        signer = self.keys.signer()
        headers = tax_signature.signed_headers(signer.key, signer.serial, self.clock.timestamp(), callback.body)
        headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            response = requests.post(callback.notify_url, data=callback.body, headers=headers, timeout=SEND_TIMEOUT)
        except requests.RequestException as exc:
            return f"error: {type(exc).__name__}"
        response.close()
        return response.status_code

    def _record(self, callback: Callback, attempt: int, status: Status, duplicate: bool = False) -> None:
        entry = {
            "out_order_no": callback.out_order_no,
            "event_id": callback.event_id,
            "attempt": attempt,
            "status": status,
            "duplicate": duplicate,
            "at": self.clock.now().isoformat(),
        }
        with self._lock:
            self._attempts.append(entry)
