"""core/api.py: the Blueprint's argument schemas are instances made once, whatever a route passes."""

from __future__ import annotations

from marshmallow import fields

from miniapp_api.core.api import Blueprint, Schema


class CountedSchema(Schema):
    made = 0
    amount_fen = fields.Integer(required=True, strict=True)

    def __init__(self, *args, **kwargs):
        type(self).made += 1
        super().__init__(*args, **kwargs)


def test_an_argument_schema_class_is_made_an_instance_once(make_app):
    app = make_app()
    blp = Blueprint("probe_api", __name__, url_prefix="/api/v1/probe")

    @blp.post("/echo")
    @blp.arguments(CountedSchema)
    def echo(body):
        return body

    app.extensions["api"].register_blueprint(blp)
    made = CountedSchema.made
    client = app.test_client()
    answers = [client.post("/api/v1/probe/echo", json={"amount_fen": n}) for n in (1, 2)]
    assert [a.get_json() for a in answers] == [{"amount_fen": 1}, {"amount_fen": 2}]
    assert client.post("/api/v1/probe/echo", json={"amount_fen": "x"}).status_code == 422
    assert CountedSchema.made == made  # none per request
