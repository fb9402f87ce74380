"""flask-smorest wiring: the OpenAPI document and the request parser, with our error format."""

from __future__ import annotations

import copy

import flask_smorest
import marshmallow as ma
from flask_smorest.utils import resolve_schema_instance
from sqlalchemy import Row
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request

from miniapp_api.core import bodies
from miniapp_api.core.openapi import PROBLEMS_KEY, ProblemsPlugin


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details (documentation only); some codes add members (`opens_at`, `reason`, ...)."""

    type = ma.fields.String(metadata={"example": "about:blank"})
    title = ma.fields.String(metadata={"description": "the HTTP reason phrase"})
    status = ma.fields.Integer()
    code = ma.fields.String(metadata={"description": "stable snake_case error code (GET /api/v1/messages)"})
    detail = ma.fields.String(metadata={"description": "what happened and what to do, in Simplified Chinese"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "422 validation_error only: messages by field"},
    )


class Parser(FlaskParser):
    """Request arguments with our limits: a JSON body is read by `core.bodies.loads` (422 `invalid_body`
    beyond its limits), a body of another Content-Type is 415 `unsupported_media_type`, no body is
    missing (each required field then says so)."""

    DEFAULT_VALIDATION_STATUS = 422
    # Unknown query parameters are rejected like unknown body fields (the schemas say RAISE).
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None, "querystring": None}

    def _raw_load_json(self, req):
        raw = req.get_data(cache=True)
        if not raw:
            return webargs_core.missing
        if not is_json_request(req):
            raise bodies.unsupported_media_type()
        return bodies.loads(raw)


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        """Errors are handled by `miniapp_api.errors` for the whole app."""


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema, *args, **kwargs):
        """flask-smorest's, with a schema class made an instance once, here: given a class, webargs makes
        a new instance on every request (a ledger page spent 5 % of its CPU building its query's)."""
        return super().arguments(resolve_schema_instance(schema), *args, **kwargs)

    def problems(self, status: int, *codes: str):
        """Document the problem `codes` this operation answers with `status` (core/openapi.py adds the
        ones every operation of its shape may answer)."""
        return self.doc(**{PROBLEMS_KEY: dict.fromkeys(codes, status)})


class Schema(ma.Schema):
    """Base of every request schema: unknown fields are rejected, not ignored, and no integer read from a
    query string or body lies outside ±2^53 (API.md), whatever range its field allows."""

    class Meta:
        unknown = ma.RAISE

    def get_attribute(self, obj, attr, default):
        """Plain dicts are read by key; rows of Core statements and named tuples (the hot reads dump them),
        dataclasses and models by attribute, in one step: marshmallow's own lookup checks each object's
        type field by field and tries `obj[attr]` first, which a row or a tuple refuses with an exception."""
        if "." not in attr:
            if type(obj) is dict:
                return obj.get(attr, default)
            # tuple first: a Row is an abstract Sequence, whose isinstance check costs ten times a tuple's
            if isinstance(obj, tuple) or not hasattr(obj, "__getitem__") or isinstance(obj, Row):
                return getattr(obj, attr, default)
        return super().get_attribute(obj, attr, default)

    @ma.validates_schema
    def _safe_integers(self, data: dict, **kwargs) -> None:
        unsafe = [name for name, value in data.items() if _unsafe_integer(value)]
        if unsafe:
            raise ma.ValidationError({name: [f"Must lie within ±2^53 ({bodies.MAX_SAFE_INTEGER})."] for name in unsafe})


def _unsafe_integer(value) -> bool:
    if isinstance(value, list | tuple):
        return any(_unsafe_integer(item) for item in value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > bodies.MAX_SAFE_INTEGER


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
    # apispec merges the document into these options each time it writes it: one copy per app.
    app.config["API_SPEC_OPTIONS"] = copy.deepcopy(app.config["API_SPEC_OPTIONS"])
    api = Api(app, spec_kwargs={"extra_plugins": [ProblemsPlugin()]})
    app.extensions["api"] = api
    return api
