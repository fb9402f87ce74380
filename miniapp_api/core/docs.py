"""A human-readable page of the OpenAPI document, rendered here so no asset comes from the internet, and
the table of error messages the mini-program's screens share with the API (`GET /api/v1/messages`)."""

import marshmallow as ma
from flask import Blueprint, current_app, render_template

from miniapp_api.core import api, messages

bp = Blueprint("docs", __name__, template_folder="templates")
METHODS = ("get", "post", "put", "patch", "delete")

# In the OpenAPI document (registered with the Api in miniapp_api/__init__.py, after core.init_app).
messages_bp = api.Blueprint("messages", __name__, url_prefix="/api/v1", description="Error messages for the screens")
MessagesSchema = ma.Schema.from_dict(
    {code: ma.fields.String(required=True) for code in messages.MESSAGES}, name="MessagesSchema"
)


@messages_bp.get("/messages")
@messages_bp.doc(security=[])
@messages_bp.response(200, MessagesSchema)
def error_messages():
    """The sentence shown to residents for every error code, as `{code: detail}` (the problems' `detail`)."""
    return messages.MESSAGES


@bp.get("/api/v1/docs")
def api_docs():
    """The API reference as one HTML page."""
    spec = current_app.extensions["api"].spec.to_dict()
    operations = [
        {"method": method.upper(), "path": path, **operation}
        for path, item in sorted(spec.get("paths", {}).items())
        for method, operation in item.items()
        if method in METHODS
    ]
    return render_template("api_docs.html", spec=spec, operations=operations)
