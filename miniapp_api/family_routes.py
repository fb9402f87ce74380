"""Family links: a supporter links to a parent, the parent consents, either side removes it."""
from __future__ import annotations

from flask import Response

from models import db

from . import family
from .api import Blueprint
from .auth import current_user, login_required, verified_user
from .family_schemas import LinkRequestSchema, LinkSchema, LinksSchema

bp = Blueprint("family", __name__, url_prefix="/api/v1/family", description="Family: supporters acting for parents")


@bp.post("/links")
@login_required
@bp.arguments(LinkRequestSchema)
@bp.response(201, LinkSchema)
def create_link(body):
    """Link to a parent: active at once if the registry lists you as their supporter, else pending their consent."""
    link = family.create_link(verified_user(), body["parent_id_number"], body["parent_name"], body["relation"])
    db.session.commit()
    return _view(link)


@bp.get("/links")
@login_required
@bp.response(200, LinksSchema)
def list_links():
    """Your live links: people you act for, and people who act for you (with the years each paid)."""
    user = current_user()
    if user.resident is None:
        return {"as_supporter": [], "as_parent": []}
    links = family.links_of(user.resident)
    paid = family.paid_years_by_supporter(links["as_supporter"] + links["as_parent"])
    return {side: [family.view(link, paid.get((link.parent_id, link.supporter_id))) for link in rows]
            for side, rows in links.items()}


@bp.post("/links/<link_id>/approve")
@login_required
@bp.response(200, LinkSchema)
def approve_link(link_id):
    """Consent, as the parent, to a pending link."""
    link = family.approve(current_user(), link_id)
    db.session.commit()
    return _view(link)


@bp.delete("/links/<link_id>")
@login_required
@bp.response(204)
def remove_link(link_id):
    """Remove a link, as either side; the supporter's access ends at once."""
    family.remove(current_user(), link_id)
    db.session.commit()
    return Response(status=204)


def _view(link) -> dict:
    return family.view(link, family.paid_years_by_supporter([link]).get((link.parent_id, link.supporter_id)))
