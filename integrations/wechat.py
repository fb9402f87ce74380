"""WeChat server API: exchange a mini-program login code for the user's openid (INTEGRATIONS.md §1)."""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from .errors import UpstreamError
from .http import DEFAULT_TIMEOUT, HttpClient

INVALID_CODE_ERRCODES = frozenset({40029, 40163})  # invalid code, code already used


@dataclass(frozen=True)
class WeChatSession:
    """The result of a login; `session_key` is kept out of the repr (never logged or returned)."""

    openid: str
    session_key: str = field(repr=False)
    unionid: str | None = None


class WeChatClient(HttpClient):
    """`jscode2session` client; invalid codes map to 400 `invalid_wechat_code`, all else to 503."""

    unavailable_code = "wechat_unavailable"
    system_name = "WeChat"

    def __init__(
        self,
        base_url: str,
        appid: str,
        secret: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ):
        super().__init__(base_url, session, timeout)
        self.appid = appid
        self._secret = secret

    def __repr__(self) -> str:
        return f"WeChatClient({self.base_url!r}, appid={self.appid!r})"

    def code_to_session(self, js_code: str) -> WeChatSession:
        """The openid (and session_key, unionid) for a `wx.login` code."""
        # A GET, so the session retries it; if an answer is lost after WeChat consumed the code,
        # the retry reads 40163 and the user simply logs in again with a fresh code.
        response = self.request(
            "GET",
            "/sns/jscode2session",
            params={
                "appid": self.appid,
                "secret": self._secret,
                "js_code": js_code,
                "grant_type": "authorization_code",
            },
        )
        if response.status_code != 200:
            raise self.unavailable(f"HTTP {response.status_code}")
        return self._session_of(self.json_of(response))

    def _session_of(self, body: dict) -> WeChatSession:
        errcode = body.get("errcode") or 0
        if not isinstance(errcode, int):
            raise self.unavailable("malformed errcode")
        if errcode in INVALID_CODE_ERRCODES:
            raise UpstreamError("invalid_wechat_code", f"WeChat refused the login code (errcode {errcode})", 400)
        if errcode:
            raise self.unavailable(f"errcode {errcode}")
        openid, session_key, unionid = body.get("openid"), body.get("session_key"), body.get("unionid")
        if not (_text(openid) and _text(session_key)) or not (unionid is None or _text(unionid)):
            raise self.unavailable("malformed answer")
        return WeChatSession(openid, session_key, unionid)


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value)
