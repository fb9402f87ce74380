"""The external-system clients, built once per app from configuration."""

from __future__ import annotations

from flask import current_app

from integrations.agency import AgencyClient
from integrations.http import make_session
from integrations.identity import IdentityClient
from integrations.tax_bureau import TaxBureauClient
from integrations.wechat import WeChatClient
from integrations.wechat_tokens import MemoryTokenCache, RedisTokenCache, TokenCache


def init_app(app) -> None:
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
