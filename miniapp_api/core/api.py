"""flask-smorest wiring: the OpenAPI document and the request parser, with our error format."""

from __future__ import annotations

import flask_smorest
import marshmallow as ma
from webargs.flaskparser import FlaskParser, abort


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details (documentation only)."""

    type = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.Integer()
    code = ma.fields.String(metadata={"description": "stable snake_case error code"})
    detail = ma.fields.String()
    errors = ma.fields.Dict(metadata={"description": "validation errors by field"})


class Parser(FlaskParser):
    """Bodies that are not JSON (or not UTF-8) are a validation error like any other bad field."""

    DEFAULT_VALIDATION_STATUS = 422
    # Unknown query parameters are rejected like unknown body fields (the schemas say RAISE).
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None, "querystring": None}

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        abort(422, exc=error, messages={"json": {"_body": ["The body is not valid UTF-8 JSON."]}})


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        """Errors are handled by `miniapp_api.errors` for the whole app."""


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


class Schema(ma.Schema):
    """Base of every request schema: unknown fields are rejected, not ignored."""

    class Meta:
        unknown = ma.RAISE


OPENAPI_CONFIG = {
    "API_TITLE": "Shanxi supplementary resident pension",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    # Every operation needs the bearer token unless it says `security=[]` (login, verify, callbacks).
    "API_SPEC_OPTIONS": {
        "security": [{"bearerAuth": []}],
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    },
}


def init_api(app) -> Api:
    """One Api (and OpenAPI document) per app, kept in `app.extensions["api"]`."""
    api = Api(app)
    app.extensions["api"] = api
    return api
