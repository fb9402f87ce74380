"""What every client shares: one `requests.Session` per client, timeouts, one retry layer and a deadline.

The one retry layer is `HttpClient.request`: a call marked safe to repeat (reads, and creates keyed by
the caller such as the tax bureau's `out_order_no`) is tried again after a transport failure or a
502/503/504, with doubling pauses, as long as its deadline allows. Nothing else repeats a request: the
transport adapter retries nothing. Each call has an overall deadline (`DEADLINE`, retries and pauses
included) well under gunicorn's worker timeout; inside a web request the request's own budget
(`outbound.budget`) can shorten it further, so that several calls in one request still end in time.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from . import outbound
from .errors import UpstreamError

DEFAULT_TIMEOUT = (3.05, 5.0)  # (connect, read) seconds of one attempt
DEADLINE = 10.0  # seconds for one call, every attempt and pause included
RETRIES = 2  # further attempts of a call that is safe to repeat
RETRY_STATUSES = frozenset({502, 503, 504})
SAFE_METHODS = frozenset({"GET", "HEAD"})
MIN_ATTEMPT = 0.5  # seconds: an attempt with less time than this left is not started


def make_session() -> requests.Session:
    """A pooled session whose adapter never retries (the client's `request` is the one retry layer)."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0, pool_maxsize=32)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class HttpClient:
    """Base of the clients: joins paths to the base URL, retries what is safe within the deadline, and
    maps transport failures to `unavailable_code`."""

    unavailable_code = "upstream_unavailable"
    system_name = "external system"

    retry_pause = 0.2  # seconds before the first repeat; doubles each time
    deadline = DEADLINE

    def __init__(
        self,
        base_url: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        headers: dict[str, str] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.session = session or make_session()
        self.timeout = timeout
        self.headers = headers or {}

    def request(self, method: str, path: str, repeatable: bool | None = None, **kwargs: Any) -> requests.Response:
        """One call: retried up to RETRIES times when `repeatable` (default: GET and HEAD) after a
        transport failure or 502/503/504, never past the deadline; 503 `unavailable_code` when it fails."""
        retries = RETRIES if (method in SAFE_METHODS if repeatable is None else repeatable) else 0
        ends_at = outbound.deadline(time.monotonic() + self.deadline)
        for attempt in range(retries + 1):
            try:
                response = self._send(method, path, ends_at, **kwargs)
            except UpstreamError:
                if attempt == retries or not self._time_for(attempt, ends_at):
                    raise
                response = None
            if response is not None and self._final(
                response, attempt == retries or not self._time_for(attempt, ends_at)
            ):
                return response
            time.sleep(self.retry_pause * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _final(response: requests.Response, last: bool) -> bool:
        return last or response.status_code not in RETRY_STATUSES

    def _time_for(self, attempt: int, ends_at: float) -> bool:
        """Whether a pause and one more attempt still fit before the deadline."""
        return time.monotonic() + self.retry_pause * 2**attempt + MIN_ATTEMPT < ends_at

    def _send(self, method: str, path: str, ends_at: float, **kwargs: Any) -> requests.Response:
        left = ends_at - time.monotonic()
        if left < MIN_ATTEMPT:
            raise self.unavailable("deadline reached")
        timeout = (min(self.timeout[0], left), min(self.timeout[1], left))
        headers = {**self.headers, **outbound.headers(), **kwargs.pop("headers", {})}
        try:
            return self.session.request(method, self.base_url + path, timeout=timeout, headers=headers, **kwargs)
        except requests.RequestException as exc:
            # Not chained: the transport error's text holds the full URL (secrets, ID numbers).
            raise self.unavailable(type(exc).__name__) from None

    def unavailable(self, why: str) -> UpstreamError:
        return UpstreamError(self.unavailable_code, f"{self.system_name} is unavailable ({why})", 503)

    def json_of(self, response: requests.Response) -> dict:
        """The JSON object of a response, or `unavailable` when the body is not one."""
        try:
            body = response.json()
        except ValueError:
            raise self.unavailable(f"HTTP {response.status_code}, body is not JSON") from None
        if not isinstance(body, dict):
            raise self.unavailable(f"HTTP {response.status_code}, body is not an object")
        return body
