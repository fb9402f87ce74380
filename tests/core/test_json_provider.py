"""JSON answers are written by orjson with Flask's meaning: sorted keys, HTTP dates, UTF-8 text."""

import datetime as dt
import decimal
import json
import uuid
from dataclasses import dataclass

import pytest
from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider

from miniapp_api.core import json_provider
from tests.support.problems import assert_problem


@dataclass
class Point:
    x: int
    label: str


VALUES = [
    {"b": 1, "a": [1, 2, {"d": None, "c": True}]},
    {"name": "张三", "detail": "缴费成功"},
    {"day": dt.date(2027, 3, 2), "at": dt.datetime(2027, 3, 2, 10, 0, tzinfo=dt.timezone.utc)},
    {"amount": decimal.Decimal("12.30"), "id": uuid.UUID(int=7)},
    {2027: "year", 1: "one"},
    {"point": Point(1, "一")},
    [9_007_199_254_740_991, -1, 0, 1.5],
]


@pytest.fixture
def apps() -> tuple[Flask, Flask]:
    """An app answering with this provider, and one with Flask's own."""
    ours, flasks = Flask("ours"), Flask("flasks")
    json_provider.init_app(ours)
    return ours, flasks


@pytest.mark.parametrize("value", VALUES)
def test_dumps_means_what_flask_would_write(apps, value):
    ours, flasks = apps
    assert isinstance(ours.json, json_provider.JSONProvider)
    assert isinstance(flasks.json, DefaultJSONProvider) and not isinstance(flasks.json, json_provider.JSONProvider)
    with ours.app_context():
        written = ours.json.dumps(value)
    with flasks.app_context():
        expected = flasks.json.dumps(value)
    assert json.loads(written) == json.loads(expected)


def test_answer_is_sorted_compact_utf8_with_a_newline(apps):
    ours, _ = apps
    with ours.test_request_context():
        body = jsonify({"b": "缴费", "a": 1}).get_data()
    assert body == '{"a":1,"b":"缴费"}\n'.encode()


def test_answer_keeps_flasks_http_dates(apps):
    ours, flasks = apps
    value = {"day": dt.date(2027, 3, 2)}
    with ours.test_request_context():
        written = json.loads(jsonify(value).get_data())
    with flasks.test_request_context():
        assert written == json.loads(jsonify(value).get_data()) == {"day": "Tue, 02 Mar 2027 00:00:00 GMT"}


def test_dataclass_fields_are_sorted_as_flask_sorts_them(apps):
    ours, _ = apps
    with ours.app_context():
        assert ours.json.dumps({"point": Point(1, "一")}) == '{"point":{"label":"一","x":1}}'


def test_debug_answers_are_indented(apps):
    ours, _ = apps
    ours.debug = True
    with ours.test_request_context():
        body = jsonify({"a": 1}).get_data(as_text=True)
    assert body == '{\n  "a": 1\n}\n'


def test_a_callers_own_formatting_is_honoured(apps):
    ours, _ = apps
    with ours.app_context():
        assert ours.json.dumps({"a": [1]}, indent=1) == '{\n "a": [\n  1\n ]\n}'


def test_unknown_type_still_fails(apps):
    ours, _ = apps
    with ours.app_context(), pytest.raises(TypeError):
        ours.json.dumps({"a": object()})


def test_problem_detail_is_utf8_text(client):
    response = client.get("/api/v1/no-such-thing")
    problem = assert_problem(response, 404, "not_found")
    assert problem["detail"].encode() in response.get_data()
    assert b"\\u" not in response.get_data()
