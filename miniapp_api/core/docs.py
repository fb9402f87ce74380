"""A human-readable page of the OpenAPI document, rendered here so no asset comes from the internet."""

from flask import Blueprint, current_app, render_template

bp = Blueprint("docs", __name__, template_folder="templates")
METHODS = ("get", "post", "put", "patch", "delete")


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
