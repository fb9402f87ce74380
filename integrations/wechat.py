"""WeChat server API (INTEGRATIONS.md §1, §1a, §1b): the openid of a mini-program login code, the
server access token, and the outcome of a face verification (微信人脸核身).

Secrets that travel in URLs (`secret` of jscode2session, `access_token` of the face call) never reach
a log line or an exception: errors name only the kind of failure, and the HTTP library's own log lines
(which show the path with its query) are redacted.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field

import requests

from .errors import UpstreamError
from .http import DEFAULT_TIMEOUT, HttpClient
from .wechat_tokens import MemoryTokenCache, TokenCache

# WeChat errcodes that are an answer about the user, not an outage: our problem code and HTTP status.
# Every other errcode (-1 busy, 45011 quota, ...) is 503 `wechat_unavailable`.
REFUSALS = {
    40029: ("invalid_wechat_code", 400),  # invalid code
    40163: ("invalid_wechat_code", 400),  # code already used
    40226: ("wechat_user_blocked", 403),  # the user is blocked by WeChat
}
STALE_TOKEN_ERRCODES = frozenset({40001, 42001})  # access token invalid, access token expired
UNKNOWN_VERIFY_RESULT = 84001  # verify_result unknown or expired
TOKEN_MARGIN = 300  # seconds: a token is cached until this long before WeChat lets it expire
STABLE_TOKEN_PATH = "/cgi-bin/stable_token"
FACE_INFO_PATH = "/cityservice/face/identify/getinfo"
_MD5_HEX = re.compile(r"^[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class WeChatSession:
    """The result of a login; `session_key` is kept out of the repr (never logged or returned)."""

    openid: str
    session_key: str = field(repr=False)
    unionid: str | None = None


@dataclass(frozen=True)
class FaceVerification:
    """What WeChat says about one face verification (§1b). Only `identify_ret` 0 is a recognised face;
    the other fields are then all present (md5 values in lower case)."""

    identify_ret: int
    openid: str = ""
    identify_time: int = 0
    id_card_number_md5: str = ""
    name_utf8_md5: str = ""

    @property
    def recognised(self) -> bool:
        return self.identify_ret == 0


class WeChatClient(HttpClient):
    """`jscode2session`, `stable_token` and face `getinfo`. The errcodes of REFUSALS map to their codes
    (400 `invalid_wechat_code`, 403 `wechat_user_blocked`), an unknown verify_result to None, every
    other failure to 503 `wechat_unavailable`."""

    unavailable_code = "wechat_unavailable"
    system_name = "WeChat"

    def __init__(
        self,
        base_url: str,
        appid: str,
        secret: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        token_cache: TokenCache | None = None,
    ):
        super().__init__(base_url, session, timeout)
        self.appid = appid
        self._secret = secret
        self.tokens: TokenCache = token_cache if token_cache is not None else MemoryTokenCache()
        self._fetching = threading.Lock()  # one token fetch at a time in this process
        redact_transport_logs()

    def __repr__(self) -> str:
        return f"WeChatClient({self.base_url!r}, appid={self.appid!r})"

    # --- §1 login ---------------------------------------------------------------------------------

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
        self._raise_for(self._errcode(body))
        openid, session_key, unionid = body.get("openid"), body.get("session_key"), body.get("unionid")
        if not (_text(openid) and _text(session_key)) or not (unionid is None or _text(unionid)):
            raise self.unavailable("malformed answer")
        return WeChatSession(openid, session_key, unionid)

    # --- §1a the server access token --------------------------------------------------------------

    def access_token(self) -> str:
        """The cached access token, or a fresh one from `stable_token` (then cached for every worker)."""
        token = self.tokens.get()
        if token:
            return token
        with self._fetching:  # requests of this process waiting for the same fetch use its token
            return self.tokens.get() or self._fetch_token()

    def _fetch_token(self) -> str:
        # The secret travels in the body, never in the URL. Asking again is harmless: stable_token
        # (without force_refresh) answers the token in force.
        response = self.request(
            "POST",
            STABLE_TOKEN_PATH,
            repeatable=True,
            json={"grant_type": "client_credential", "appid": self.appid, "secret": self._secret},
        )
        if response.status_code != 200:
            raise self.unavailable(f"HTTP {response.status_code}")
        body = self.json_of(response)
        errcode = self._errcode(body)
        if errcode:
            raise self.unavailable(f"errcode {errcode} for the access token")
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not _text(token) or not _integer(expires_in) or expires_in <= 0:
            raise self.unavailable("malformed access token answer")
        self.tokens.put(token, expires_in - TOKEN_MARGIN)
        return token

    def _post_with_token(self, path: str, payload: dict) -> dict:
        """POST `payload` to a `?access_token=` API; a stale token is replaced once and the call repeated once."""
        token = self.access_token()
        body = self._post_once(path, payload, token)
        if self._errcode(body) in STALE_TOKEN_ERRCODES:
            self.tokens.drop(token)
            body = self._post_once(path, payload, self.access_token())
            if self._errcode(body) in STALE_TOKEN_ERRCODES:
                raise self.unavailable(f"errcode {self._errcode(body)} with a fresh access token")
        return body

    def _post_once(self, path: str, payload: dict, token: str) -> dict:
        response = self.request("POST", path, repeatable=True, params={"access_token": token}, json=payload)
        if response.status_code != 200:
            raise self.unavailable(f"HTTP {response.status_code}")
        return self.json_of(response)

    # --- §1b face verification --------------------------------------------------------------------

    def face_verification(self, verify_result: str) -> FaceVerification | None:
        """What WeChat recorded for a `verify_result` of `wx.startFacialRecognitionVerify`; None when
        WeChat does not know it (errcode 84001: unknown or expired). Reading it twice is harmless."""
        body = self._post_with_token(FACE_INFO_PATH, {"verify_result": verify_result})
        errcode = self._errcode(body)
        if errcode == UNKNOWN_VERIFY_RESULT:
            return None
        self._raise_for(errcode)
        return self._face_of(body)

    def _face_of(self, body: dict) -> FaceVerification:
        identify_ret = body.get("identify_ret")
        if not _integer(identify_ret):
            raise self.unavailable("malformed face verification answer")
        if identify_ret != 0:
            return FaceVerification(identify_ret)
        openid, identify_time = body.get("openid"), body.get("identify_time")
        id_md5, name_md5 = body.get("id_card_number_md5"), body.get("name_utf8_md5")
        if not (_text(openid) and _integer(identify_time) and _md5(id_md5) and _md5(name_md5)):
            raise self.unavailable("malformed face verification answer")
        return FaceVerification(0, openid, identify_time, id_md5.lower(), name_md5.lower())

    # --- shared -----------------------------------------------------------------------------------

    def _raise_for(self, errcode: int) -> None:
        """Nothing for 0; the refusal of REFUSALS, or 503 `wechat_unavailable`, for any other errcode."""
        if errcode in REFUSALS:
            code, status = REFUSALS[errcode]
            raise UpstreamError(code, f"WeChat refused the call (errcode {errcode})", status)
        if errcode:
            raise self.unavailable(f"errcode {errcode}")

    def _errcode(self, body: dict) -> int:
        errcode = body.get("errcode") or 0
        if not _integer(errcode):
            raise self.unavailable("malformed errcode")
        return errcode


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _md5(value: object) -> bool:
    return isinstance(value, str) and bool(_MD5_HEX.match(value))


# --- Redaction of the HTTP library's log lines ------------------------------------------------------

# urllib3 logs the request path with its query: at DEBUG for every request, at WARNING when it retries
# after a broken connection. Those queries carry `secret`, `access_token` and the login code.
_SECRET_QUERY = re.compile(r"((?:access_token|secret|js_code)=)[^&#\s'\"]+")
_TRANSPORT_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")


class RedactSecretQueries(logging.Filter):
    """Replaces the values of secret query parameters in a record's message with `***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's business
            return True
        redacted = _SECRET_QUERY.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact_transport_logs() -> None:
    """Install `RedactSecretQueries` on urllib3's loggers (once)."""
    for name in _TRANSPORT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactSecretQueries) for existing in logger.filters):
            logger.addFilter(RedactSecretQueries())
