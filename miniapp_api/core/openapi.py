"""The OpenAPI document made exact (API.md conventions), for the mini-program team and for schemathesis.

flask-smorest writes the operations from the routes and schemas; this adds what it cannot know:

- every operation's problem responses, as `application/problem+json` with the `code` values each status
  may carry: the ones a route declares with `Blueprint.problems` and the ones every operation of its
  shape can answer (401 without a token, 404 for a path naming something behind the login, 413/415/422
  for a body, 422 for a query string); no catch-all `default` response, so an undocumented status is a
  defect;
- response schemas that list every field as `required` (each is always written, `null` where the field
  says `nullable`) and stay open to fields added later (API.md: "more fields may be added"), while
  request schemas keep rejecting unknown fields.
"""

from __future__ import annotations

import http
from collections.abc import Iterator
from typing import Any

from apispec import BasePlugin

PROBLEM_JSON = "application/problem+json"
PROBLEMS_KEY = "x-problems"  # where `Blueprint.problems` leaves its codes in an operation's doc
OWN_FORMAT_KEY = "x-own-error-format"  # an operation that documents its own error answers (the callback)
PROBLEM_REF = "#/components/schemas/Problem"
BINARY = {"type": "string", "format": "binary"}  # the schema of a PDF or PNG response
PROBLEM_FIELDS = ["type", "title", "status", "code", "detail"]  # always present; others by code

BODY_PROBLEMS = {"payload_too_large": 413, "unsupported_media_type": 415, "invalid_body": 422, "validation_error": 422}


def problem_response(status: int, codes: list[str]) -> dict:
    schema = {"allOf": [{"$ref": PROBLEM_REF}, {"type": "object", "properties": {"code": {"enum": sorted(codes)}}}]}
    return {"description": http.HTTPStatus(status).phrase, "content": {PROBLEM_JSON: {"schema": schema}}}


class ProblemsPlugin(BasePlugin):
    """Writes each operation's problem responses and remembers which fields each schema always dumps."""

    def __init__(self) -> None:
        self.dumped: dict[str, list[str]] = {}
        self.answers: list = []  # what operations answer and what they are sent, for `finalize`
        self.requests: list = []

    def schema_helper(self, name: str, definition: dict, **kwargs: Any) -> None:
        schema = kwargs.get("schema")
        fields = getattr(schema, "dump_fields", None) if schema is not None else None
        if fields is not None:
            always = getattr(schema, "OPENAPI_REQUIRED", None)  # a schema that writes some fields only
            self.dumped[name] = list(always or (field.data_key or key for key, field in fields.items()))

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        for operation in (operations or {}).values():
            self.requests.append({key: operation.get(key) for key in ("requestBody", "parameters")})
            self.answers.append(operation.get("responses"))
            responses = operation.setdefault("responses", {})
            responses.pop("default", None)
            if operation.pop(OWN_FORMAT_KEY, False):
                continue
            for status, codes in _problems(operation, path or "").items():
                responses[str(status)] = problem_response(status, codes)


def _problems(operation: dict, path: str) -> dict[int, list[str]]:
    by_status: dict[int, list[str]] = {}
    for code, status in _codes(operation, path):
        by_status.setdefault(status, [])
        if code not in by_status[status]:
            by_status[status].append(code)
    return dict(sorted(by_status.items()))


def _codes(operation: dict, path: str) -> Iterator[tuple[str, int]]:
    yield from operation.pop(PROBLEMS_KEY, {}).items()
    if operation.get("security") != []:
        yield "unauthorized", 401
        if "{" in path:  # what the path names may be another person's (API.md: no existence leak)
            yield "not_found", 404
    if "requestBody" in operation:
        yield from BODY_PROBLEMS.items()
    if any(parameter.get("in") == "query" for parameter in operation.get("parameters", [])):
        yield "validation_error", 422


def finalize(spec) -> None:
    """Response schemas: every field required, open to added fields (after every route is registered)."""
    plugin = next(plugin for plugin in spec.plugins if isinstance(plugin, ProblemsPlugin))
    schemas = spec.components.schemas
    answered = _reachable(plugin.answers, schemas) - _reachable(plugin.requests, schemas)
    for name in answered | {"Problem"}:
        schemas[name].pop("additionalProperties", None)
        schemas[name]["required"] = PROBLEM_FIELDS if name == "Problem" else plugin.dumped.get(name, [])


def _reachable(roots: list, schemas: dict) -> set[str]:
    found: set[str] = set()
    pending = list(roots)
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/") and (name := ref.rsplit("/", 1)[1]) not in found:
                found.add(name)
                pending.append(schemas.get(name, {}))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found
