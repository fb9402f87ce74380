"""The external-system clients, built once per app from configuration."""

from __future__ import annotations

import time

from flask import current_app, g

from integrations import outbound
from integrations.agency import AgencyClient
from integrations.http import make_session
from integrations.identity import IdentityClient
from integrations.tax_bureau import TaxBureauClient
from integrations.wechat import WeChatClient
from integrations.wechat_tokens import MemoryTokenCache, RedisTokenCache, TokenCache

# Every outbound call of one request together must end within this, well inside gunicorn's 30 s
# worker timeout (gunicorn.conf.py), whatever each call's own deadline (integrations/http.py).
REQUEST_BUDGET = 20.0  # seconds


def init_app(app) -> None:
    app.before_request(_pass_on_request)
    app.teardown_request(_end_request)
    config = app.config
    app.extensions["clients"] = {
        "wechat": WeChatClient(
            config["WECHAT_API_BASE"],
            config["WECHAT_APPID"],
            config["WECHAT_SECRET"],
            session=make_session(),
            token_cache=wechat_token_cache(config),
        ),
        "identity": IdentityClient(config["IDENTITY_API_BASE"], session=make_session()),
        "agency": AgencyClient(config["AGENCY_API_BASE"], session=make_session()),
        "tax_bureau": TaxBureauClient(config["TAX_API_BASE"], config["TAX_API_KEY"], session=make_session()),
    }


def _pass_on_request() -> None:
    """The calls this request makes carry its X-Request-ID and share its time budget."""
    g.outbound = outbound.begin(g.get("request_id"), time.monotonic() + REQUEST_BUDGET)


def _end_request(_exc) -> None:
    if "outbound" in g:
        outbound.end(g.pop("outbound"))


def wechat_token_cache(config) -> TokenCache:
    """The WeChat access token's cache: shared by every worker through Redis when `REDIS_URL` is set."""
    url = config.get("REDIS_URL")
    return RedisTokenCache.from_url(url, config["WECHAT_APPID"]) if url else MemoryTokenCache()


def wechat() -> WeChatClient:
    return current_app.extensions["clients"]["wechat"]


def identity() -> IdentityClient:
    return current_app.extensions["clients"]["identity"]


def agency() -> AgencyClient:
    return current_app.extensions["clients"]["agency"]


def tax_bureau() -> TaxBureauClient:
    return current_app.extensions["clients"]["tax_bureau"]
