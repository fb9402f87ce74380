"""Family links: a supporter links to a parent, the parent consents, either side removes it."""

from __future__ import annotations

from flask import Response, request

from miniapp_api.core.api import Blueprint
from miniapp_api.family import service
from miniapp_api.family.schemas import LinkRequestSchema, LinkSchema, LinksSchema
from miniapp_api.identity.auth import current_user, login_required, verified_user
from models import db

bp = Blueprint("family", __name__, url_prefix="/api/v1/family", description="Family: supporters acting for parents")


@bp.post("/links")
@login_required
@bp.arguments(LinkRequestSchema)
@bp.response(201, LinkSchema)
@bp.problems(403, "not_verified", "identity_mismatch")
@bp.problems(404, "not_enrolled")
@bp.problems(409, "link_exists", "too_many_links")
@bp.problems(422, "invalid_id_number", "self_link")
@bp.problems(429, "rate_limited")
@bp.problems(503, "identity_unavailable", "agency_unavailable")
def create_link(body):
    """Link to a parent: active at once if the registry lists you as their supporter, else pending their consent."""
    user = verified_user()
    link = service.create_link(
        user, body["parent_id_number"], body["parent_name"], body["relation"], request.remote_addr or ""
    )
    db.session.commit()
    return service.with_paid_years([link])[0]


@bp.get("/links")
@login_required
@bp.response(200, LinksSchema)
def list_links():
    """Your live links: people you act for, and people who act for you (with the years each paid)."""
    user = current_user()
    if user.resident is None:
        return {"as_supporter": [], "as_parent": []}
    return {side: service.with_paid_years(links) for side, links in service.links_of(user.resident).items()}


@bp.post("/links/<link_id>/approve")
@login_required
@bp.response(200, LinkSchema)
def approve_link(link_id):
    """Consent, as the parent, to a pending link."""
    link = service.approve(current_user(), link_id)
    db.session.commit()
    return service.with_paid_years([link])[0]


@bp.delete("/links/<link_id>")
@login_required
@bp.response(204)
def remove_link(link_id):
    """Remove a link, as either side; the supporter's access ends at once."""
    service.remove(current_user(), link_id)
    db.session.commit()
    return Response(status=204)
