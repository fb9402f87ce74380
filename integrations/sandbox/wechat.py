"""Sandbox WeChat server API: `GET /sns/jscode2session`, `POST /cgi-bin/stable_token`,
`POST /cityservice/face/identify/getinfo`, and a stand-in for `wx.startFacialRecognitionVerify`.

Test login codes (`js_code`):

| code | answer |
|---|---|
| `test:<name>` | openid `o_sbx_` + sha256(name)[:16] (stable per name), a fresh random session_key |
| `test:<name>:<anything>` | the same openid: use a new suffix to log in again as the same person |
| the same code a second time | errcode 40163 (code been used) |
| `test:invalid`, or not of the form `test:<name>` | errcode 40029 (invalid code) |
| `test:busy` | errcode -1 (system busy) |
| `test:ratelimit` | errcode 45011 (rate limited) |
| `test:blocked` | errcode 40226 (the user is blocked by WeChat) |

Demo people log in as `test:<key>` (demo_data, e.g. `test:ordinary_1975`). When the app config
has `SANDBOX_WECHAT_APPID` / `SANDBOX_WECHAT_SECRET`, a different appid answers 40013 and a
different secret 40125 (invalid appsecret), at jscode2session and stable_token alike. Like WeChat,
errors come with HTTP 200.

Access tokens (§1a): `stable_token` with `{"grant_type": "client_credential", "appid", "secret"}` answers
the token in force (a new one when none is, or with `"force_refresh": true`), valid 7200 s of real time.
APIs called with an unknown token answer 40001, with an expired one 42001, without one 41001.

Face verification (§1b), sandbox only: `POST /sandbox/face-verify` stands in for the mini-program's
`wx.startFacialRecognitionVerify` and hands out a fresh `verify_result`:

    {"code": "test:<name>[:<anything>]" | "openid": "...", "name": "...", "id_number": "...",
     "outcome"?: "pass" | "fail", "identify_time"?: unix seconds}
    →   {"verify_result": "...", "openid": "...", "outcome": "..."}

`code` names the WeChat user whose phone runs the check, as their login codes do (it is not used up);
`openid` names them directly. The sandbox knows no faces: the check passes (whatever the name and ID
number) unless `outcome` is `"fail"`. `getinfo` then answers as WeChat would: the md5 values of the ID
number (X upper-case) and name that were checked, `identify_time` from the sandbox clock
(`SANDBOX_NOW`, see tax_delivery.SandboxClock) unless the request gives one (for an API whose clock
stands elsewhere, or a stale check), `identify_ret` 0 on pass and 90100 on fail, and errcode 84001 for
a verify_result it never handed out. Reading a verify_result again gives the same
answer (WeChat does not spend it; the backend must). It answers any origin (CORS), so that the
screens' browser platform (static/app/platform.js), which stands in for the WeChat client, can call it.

Also sandbox only: `GET /sandbox/calls` counts the calls of each API (`{"stable_token": n, "getinfo": n,
"jscode2session": n}`), `POST /sandbox/control/revoke-tokens` makes every access token handed out so
far unknown (the next call with one answers 40001).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass

from flask import Blueprint, current_app, jsonify, request

from .tax_delivery import SandboxClock

bp = Blueprint("sandbox_wechat", __name__)
SPECIAL_CODES = {
    "invalid": (40029, "invalid code"),
    "busy": (-1, "system error"),
    "ratelimit": (45011, "api minute-quota reach limit"),
    "blocked": (40226, "high risk user, login blocked"),
}
INVALID_CODE = (40029, "invalid code")
CODE_USED = (40163, "code been used")
TOKEN_LIFETIME = 7200  # seconds, as WeChat's
TOKEN_MISSING = (41001, "access_token missing")
TOKEN_INVALID = (40001, "invalid credential, access_token is invalid or not latest")
TOKEN_EXPIRED = (42001, "access_token expired")
UNKNOWN_VERIFY_RESULT = (84001, "invalid verify_result")
BAD_BODY = (47001, "data format error")
FACE_FAILED_RET = 90100  # the sandbox's identify_ret for a face that did not match
OUTCOMES = ("pass", "fail")


class _UsedCodes:
    """The codes already exchanged, per sandbox app (the server is threaded)."""

    def __init__(self) -> None:
        self._codes: set[str] = set()
        self._lock = threading.Lock()

    def first_use(self, code: str) -> bool:
        with self._lock:
            fresh = code not in self._codes
            self._codes.add(code)
            return fresh


class _AccessTokens:
    """The access tokens handed out, with their real-time expiry; the latest is the one in force."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}
        self._current: str | None = None

    def stable(self, force_refresh: bool) -> tuple[str, int]:
        """The token in force and its remaining seconds (a new one if none is, or when forced)."""
        with self._lock:
            now = time.time()
            current = self._current
            if current is None or force_refresh or self._expiry[current] <= now:
                current = self._current = "sbx_at_" + secrets.token_urlsafe(24)
                self._expiry[current] = now + TOKEN_LIFETIME
            return current, max(1, int(self._expiry[current] - now))

    def refusal(self, token: str | None) -> tuple[int, str] | None:
        """Why a call with `token` is refused (41001, 40001, 42001), or None."""
        if not token:
            return TOKEN_MISSING
        with self._lock:
            expiry = self._expiry.get(token)
        if expiry is None:
            return TOKEN_INVALID
        return TOKEN_EXPIRED if expiry <= time.time() else None

    def revoke_all(self) -> int:
        with self._lock:
            count = len(self._expiry)
            self._expiry.clear()
            self._current = None
            return count


@dataclass(frozen=True)
class _FaceCheck:
    openid: str
    id_card_number_md5: str
    name_utf8_md5: str
    identify_ret: int
    identify_time: int
    validate_data: str
    user_id_key: str


class _FaceChecks:
    """The verify_results handed out by `/sandbox/face-verify`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checks: dict[str, _FaceCheck] = {}

    def add(self, check: _FaceCheck) -> str:
        verify_result = "sbx_vr_" + secrets.token_urlsafe(24)
        with self._lock:
            self._checks[verify_result] = check
        return verify_result

    def get(self, verify_result: str) -> _FaceCheck | None:
        with self._lock:
            return self._checks.get(verify_result)


@dataclass
class _State:
    used_codes: _UsedCodes
    tokens: _AccessTokens
    faces: _FaceChecks
    clock: SandboxClock
    calls: Counter
    lock: threading.Lock

    def count(self, api: str) -> None:
        with self.lock:
            self.calls[api] += 1


def _register(state) -> None:
    app = state.app
    app.extensions["sandbox_wechat"] = _State(
        _UsedCodes(), _AccessTokens(), _FaceChecks(), SandboxClock(app.config), Counter(), threading.Lock()
    )


bp.record_once(_register)


def _state() -> _State:
    return current_app.extensions["sandbox_wechat"]


# --- §1 login ---------------------------------------------------------------------------------------


@bp.get("/sns/jscode2session")
def jscode2session():
    _state().count("jscode2session")
    refusal = _credentials_refusal(request.args.get("appid"), request.args.get("secret")) or _grant_refusal()
    if refusal:
        return _error(*refusal)
    name = _test_name(request.args.get("js_code", ""))
    if name is None:
        return _error(*INVALID_CODE)
    if name in SPECIAL_CODES:
        return _error(*SPECIAL_CODES[name])
    if not _state().used_codes.first_use(request.args["js_code"]):
        return _error(*CODE_USED)
    return jsonify({"openid": openid_for(name), "session_key": base64.b64encode(secrets.token_bytes(16)).decode()})


def openid_for(name: str) -> str:
    """The stable sandbox openid of a test-code name."""
    return "o_sbx_" + hashlib.sha256(name.encode()).hexdigest()[:16]


def _test_name(code: str) -> str | None:
    """`alice` for `test:alice` or `test:alice:2`; None when the code is not a test code."""
    prefix, _, rest = code.partition(":")
    name = rest.partition(":")[0]
    return name if prefix == "test" and name else None


def _credentials_refusal(appid: object, secret: object) -> tuple[int, str] | None:
    config = current_app.config
    if config.get("SANDBOX_WECHAT_APPID") and appid != config["SANDBOX_WECHAT_APPID"]:
        return 40013, "invalid appid"
    if config.get("SANDBOX_WECHAT_SECRET") and secret != config["SANDBOX_WECHAT_SECRET"]:
        return 40125, "invalid appsecret"
    return None


def _grant_refusal() -> tuple[int, str] | None:
    if request.args.get("grant_type") != "authorization_code":
        return 40002, "invalid grant_type"
    return None


def _error(errcode: int, errmsg: str):
    return jsonify({"errcode": errcode, "errmsg": errmsg})


# --- §1a access token -------------------------------------------------------------------------------


@bp.post("/cgi-bin/stable_token")
def stable_token():
    _state().count("stable_token")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(*BAD_BODY)
    if body.get("grant_type") != "client_credential":
        return _error(40002, "invalid grant_type")
    refusal = _credentials_refusal(body.get("appid"), body.get("secret"))
    if refusal:
        return _error(*refusal)
    token, expires_in = _state().tokens.stable(body.get("force_refresh") is True)
    return jsonify({"access_token": token, "expires_in": expires_in})


# --- §1b face verification --------------------------------------------------------------------------


@bp.post("/cityservice/face/identify/getinfo")
def face_getinfo():
    state = _state()
    state.count("getinfo")
    refusal = state.tokens.refusal(request.args.get("access_token"))
    if refusal:
        return _error(*refusal)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("verify_result"), str):
        return _error(*BAD_BODY)
    check = state.faces.get(body["verify_result"])
    if check is None:
        return _error(*UNKNOWN_VERIFY_RESULT)
    return jsonify(
        {
            "errcode": 0,
            "errmsg": "ok",
            "identify_ret": check.identify_ret,
            "identify_time": check.identify_time,
            "validate_data": check.validate_data,
            "openid": check.openid,
            "user_id_key": check.user_id_key,
            "finish_time": check.identify_time,
            "id_card_number_md5": check.id_card_number_md5,
            "name_utf8_md5": check.name_utf8_md5,
        }
    )


CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}


@bp.route("/sandbox/face-verify", methods=["OPTIONS"])
def face_verify_preflight():
    return "", 204, CORS


@bp.after_request
def _allow_face_verify_from_any_origin(response):
    if request.endpoint == "sandbox_wechat.face_verify":
        response.headers.update(CORS)
    return response


@bp.post("/sandbox/face-verify")
def face_verify():
    """The sandbox's `wx.startFacialRecognitionVerify`: a fresh verify_result for this user, name and ID number."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _bad_request("a JSON object is required")
    openid = _face_openid(body)
    if openid is None:
        return _bad_request('"code" (test:<name>[:<anything>]) or "openid" names the WeChat user')
    name, number, outcome = body.get("name"), body.get("id_number"), body.get("outcome", "pass")
    if not (isinstance(name, str) and name.strip() and isinstance(number, str) and number.strip()):
        return _bad_request('"name" and "id_number" (strings) are required')
    if outcome not in OUTCOMES:
        return _bad_request('"outcome" is "pass" or "fail"')
    state = _state()
    identify_time = body.get("identify_time", state.clock.timestamp())
    if not isinstance(identify_time, int) or isinstance(identify_time, bool) or identify_time < 0:
        return _bad_request('"identify_time" is a unix time in seconds')
    check = _FaceCheck(
        openid=openid,
        id_card_number_md5=hashlib.md5(number.strip().upper().encode("utf-8")).hexdigest(),
        name_utf8_md5=hashlib.md5(name.strip().encode("utf-8")).hexdigest(),
        identify_ret=0 if outcome == "pass" else FACE_FAILED_RET,
        identify_time=identify_time,
        validate_data=secrets.token_hex(8),
        user_id_key=secrets.token_hex(12),
    )
    return jsonify({"verify_result": state.faces.add(check), "openid": openid, "outcome": outcome})


def _face_openid(body: dict) -> str | None:
    if isinstance(body.get("openid"), str) and body["openid"]:
        return body["openid"]
    name = _test_name(body["code"]) if isinstance(body.get("code"), str) else None
    return openid_for(name) if name else None


def _bad_request(message: str):
    return jsonify({"error": "bad_request", "message": message}), 400


# --- Sandbox inspection and control -----------------------------------------------------------------


@bp.get("/sandbox/calls")
def calls():
    state = _state()
    with state.lock:
        counted = dict(state.calls)
    return jsonify({api: counted.get(api, 0) for api in ("jscode2session", "stable_token", "getinfo")})


@bp.post("/sandbox/control/revoke-tokens")
def revoke_tokens():
    return jsonify({"revoked": _state().tokens.revoke_all()})
