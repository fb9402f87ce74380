"""What the request being served passes on to the calls it makes: its request id and its time budget.

The web app sets both at the start of each request (`miniapp_api.core.logs`); batch jobs and the
sandbox set nothing, and their calls then carry no request id and only their own deadline.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

REQUEST_ID_HEADER = "X-Request-ID"


@dataclass(frozen=True)
class Context:
    request_id: str | None = None
    ends_at: float | None = None  # time.monotonic() by which every outbound call must be done


OUTSIDE_A_REQUEST = Context()
_current: contextvars.ContextVar[Context] = contextvars.ContextVar("outbound", default=OUTSIDE_A_REQUEST)


def begin(request_id: str | None, ends_at: float | None) -> contextvars.Token:
    return _current.set(Context(request_id, ends_at))


def end(token: contextvars.Token) -> None:
    _current.reset(token)


def headers() -> dict[str, str]:
    request_id = _current.get().request_id
    return {REQUEST_ID_HEADER: request_id} if request_id else {}


def deadline(own: float) -> float:
    """The earlier of a call's own deadline and the request's budget."""
    ends_at = _current.get().ends_at
    return own if ends_at is None else min(own, ends_at)
