"""Every error is RFC 9457 problem+json with a stable code; a 500 shows no stack trace."""

import json
import logging

import pytest
from marshmallow import fields

from miniapp_api.core.api import Blueprint, Schema
from miniapp_api.core.messages import MESSAGES
from tests.support.problems import assert_problem


def test_unknown_path_is_404_problem(client):
    assert_problem(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_is_405_problem_with_allow(client):
    response = client.delete("/healthz")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


class EchoSchema(Schema):
    amount_fen = fields.Integer(required=True, strict=True)


@pytest.fixture
def probe_app(make_app):
    """An app with two extra routes: one that validates a body, one that fails."""
    app = make_app()
    blp = Blueprint("probe", __name__, url_prefix="/api/v1/probe")

    @blp.post("/echo")
    @blp.arguments(EchoSchema)
    def echo(body):
        return body

    @blp.get("/boom")
    def boom():
        raise RuntimeError("secret detail 140105195809120017")

    app.extensions["api"].register_blueprint(blp)
    return app


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "amount_fen"),
        ({"amount_fen": "100"}, "amount_fen"),
        ({"amount_fen": 1.5}, "amount_fen"),
        ({"amount_fen": 100, "extra": 1}, "extra"),
    ],
)
def test_bad_body_is_422_with_field_errors(probe_app, body, field):
    response = probe_app.test_client().post("/api/v1/probe/echo", json=body)
    assert field in assert_problem(response, 422, "validation_error")["errors"]


@pytest.mark.parametrize("raw", [b"\xff\xfe{", b"{not json", b"[1, 2"])
def test_undecodable_body_is_422(probe_app, raw):
    response = probe_app.test_client().post("/api/v1/probe/echo", data=raw, content_type="application/json")
    assert "_body" in assert_problem(response, 422, "invalid_body")["errors"]  # API.md conventions


def test_unexpected_error_is_500_without_trace_and_logged_with_request_id(probe_app, caplog):
    with caplog.at_level(logging.ERROR):
        response = probe_app.test_client().get("/api/v1/probe/boom", headers={"X-Request-ID": "req-42"})
    body = assert_problem(response, 500, "internal_error")
    assert "Traceback" not in json.dumps(body) and "secret detail" not in json.dumps(body)
    assert body["detail"] == MESSAGES["internal_error"]  # the table's sentence, the id beside it
    assert body["request_id"] == "req-42" and response.headers["X-Request-ID"] == "req-42"
    assert any("req-42" in record.getMessage() for record in caplog.records)


def test_an_argument_schema_class_is_made_an_instance_once(probe_app, monkeypatch):
    """core/api.Blueprint.arguments: webargs, given a class, would build a schema on every request."""
    made = []
    monkeypatch.setattr(EchoSchema, "__init__", lambda self, *a, **k: made.append(1) or Schema.__init__(self, *a, **k))
    client = probe_app.test_client()
    answers = [client.post("/api/v1/probe/echo", json={"amount_fen": n}) for n in (1, 2)]
    assert [a.get_json() for a in answers] == [{"amount_fen": 1}, {"amount_fen": 2}]
    assert made == []
