"""`GET /app/sandbox.json` (never in production): what the screens' browser platform needs from the sandbox.

The WeChat client on a phone logs its user in, runs the face check and shows the pay sheet; in a
browser the sandbox stands in for it. The screens learn here where the sandbox's WeChat is and who
the demo people are (the picker that replaces `wx.login`), and the page may reach the sandbox's origins.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import flask
from flask import Flask, current_app, jsonify

from integrations.sandbox import demo_data

bp = flask.Blueprint("app_sandbox", __name__)

# Who each demo person is, in the words the picker shows (demo_data's `kind` is for developers).
ROLES = {
    "ordinary_1975": "普通参保人",
    "ordinary_1985": "普通参保人",
    "ordinary_1966": "普通参保人",
    "collective_1970": "有村集体补助",
    "dibao_1972": "低保对象（政府代缴）",
    "tekun_1969": "特困人员（政府代缴）",
    "disability_1990": "重度残疾（政府代缴）",
    "elder_1950": "已领待遇，可一次性缴费",
    "elder_1944": "80岁以上，已领待遇",
    "low_income_1959": "低收入，已领待遇",
    "parent_1958": "王丽的父亲",
    "child_1985": "王建国的女儿，在城里工作",
    "parent_1961": "张磊的父亲",
    "parent_1963": "张磊的母亲",
    "child_1988": "张德福、刘桂兰的儿子",
    "corrected_today": "今天刚改过登记信息",
    "deceased_1952": "已去世",
    "unpaid_1980": "今年基本养老保险未缴",
    "unenrolled_1992": "未在山西参保",
    "unenrolled_1979": "未参保",
}


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@bp.get("/app/sandbox.json")
def sandbox_settings():
    """The sandbox's WeChat base URL and the demo people (name, ID number, who they are)."""
    people = [
        {"key": p["key"], "name": p["name"], "id_number": p["id_number"], "role": ROLES.get(p["key"], "")}
        for p in demo_data.DEMO_RESIDENTS + demo_data.UNENROLLED
    ]
    return jsonify({"wechat_base": current_app.config["WECHAT_API_BASE"], "people": people})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    bases = [app.config.get("WECHAT_API_BASE"), app.config.get("TAX_API_BASE")]
    app.config["SCREENS_CONNECT_ORIGINS"] = sorted({origin(base) for base in bases if base})
