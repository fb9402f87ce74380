"""Sandbox WeChat server API: `GET /sns/jscode2session`.

Test codes (`js_code`):

| code | answer |
|---|---|
| `test:<name>` | openid `o_sbx_` + sha256(name)[:16] (stable per name), a fresh random session_key |
| `test:<name>:<anything>` | the same openid: use a new suffix to log in again as the same person |
| the same code a second time | errcode 40163 (code been used) |
| `test:invalid`, or not of the form `test:<name>` | errcode 40029 (invalid code) |
| `test:busy` | errcode -1 (system busy) |
| `test:ratelimit` | errcode 45011 (rate limited) |

Demo people log in as `test:<key>` (demo_data, e.g. `test:ordinary_1975`). When the app config
has `SANDBOX_WECHAT_APPID` / `SANDBOX_WECHAT_SECRET`, a different appid answers 40013 and a
different secret 40125 (invalid appsecret). Like WeChat, errors come with HTTP 200.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading

from flask import Blueprint, current_app, jsonify, request

bp = Blueprint("sandbox_wechat", __name__)
SPECIAL_CODES = {
    "invalid": (40029, "invalid code"),
    "busy": (-1, "system error"),
    "ratelimit": (45011, "api minute-quota reach limit"),
}
INVALID_CODE = (40029, "invalid code")
CODE_USED = (40163, "code been used")


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


def _register(state) -> None:
    state.app.extensions["sandbox_wechat_used_codes"] = _UsedCodes()


bp.record_once(_register)


@bp.get("/sns/jscode2session")
def jscode2session():
    refusal = _credentials_refusal() or _grant_refusal()
    if refusal:
        return _error(*refusal)
    name = _test_name(request.args.get("js_code", ""))
    if name is None:
        return _error(*INVALID_CODE)
    if name in SPECIAL_CODES:
        return _error(*SPECIAL_CODES[name])
    if not current_app.extensions["sandbox_wechat_used_codes"].first_use(request.args["js_code"]):
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


def _credentials_refusal() -> tuple[int, str] | None:
    config = current_app.config
    if config.get("SANDBOX_WECHAT_APPID") and request.args.get("appid") != config["SANDBOX_WECHAT_APPID"]:
        return 40013, "invalid appid"
    if config.get("SANDBOX_WECHAT_SECRET") and request.args.get("secret") != config["SANDBOX_WECHAT_SECRET"]:
        return 40125, "invalid appsecret"
    return None


def _grant_refusal() -> tuple[int, str] | None:
    if request.args.get("grant_type") != "authorization_code":
        return 40002, "invalid grant_type"
    return None


def _error(errcode: int, errmsg: str):
    return jsonify({"errcode": errcode, "errmsg": errmsg})
