"""What every client shares: one `requests.Session` per client, timeouts, and bounded retries.

Retries happen only for idempotent methods (GET) on connection errors and 502/503/504; a POST
that may have reached the server is never repeated blindly (the tax bureau's order creation is
made safe to repeat by `out_order_no` instead, and the caller decides).
"""

from __future__ import annotations

import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .errors import UpstreamError

DEFAULT_TIMEOUT = (3.05, 10.0)  # (connect, read) seconds
RETRY_STATUSES = frozenset({502, 503, 504})


def make_session(retries: int = 2) -> requests.Session:
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=0.2,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=32)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class HttpClient:
    """Base of the clients: joins paths to the base URL and maps transport failures to `unavailable_code`."""

    unavailable_code = "upstream_unavailable"
    system_name = "external system"

    retry_pause = 0.2  # seconds before the first repeat in `retried`; doubles each time

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

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        try:
            return self.session.request(method, self.base_url + path, timeout=self.timeout, headers=headers, **kwargs)
        except requests.RequestException as exc:
            # Not chained: the transport error's text holds the full URL (secrets, ID numbers).
            raise self.unavailable(type(exc).__name__) from None

    def retried(self, method: str, path: str, retries: int = 2, **kwargs: Any) -> requests.Response:
        """For calls safe to repeat (reads, or creates keyed by the caller): up to `retries` more
        tries after a transport failure or 502/503/504, with doubling pauses."""
        for attempt in range(retries):
            try:
                response = self.request(method, path, **kwargs)
                if response.status_code not in RETRY_STATUSES:
                    return response
            except UpstreamError:
                pass
            time.sleep(self.retry_pause * 2**attempt)
        return self.request(method, path, **kwargs)

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
