"""Liveness with a database round trip, for load balancers and the demo."""

from flask import Blueprint
from sqlalchemy import text

from miniapp_api.core.errors import ApiError
from models import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Answer 200 when the database answers, 503 otherwise."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:
        raise ApiError(503, "database_unavailable", type(exc).__name__) from exc
    return {"status": "ok", "database": "ok"}
