"""Request and response schemas of the family links (API.md 'Family')."""

from __future__ import annotations

from marshmallow import fields, validate

from miniapp_api.core.api import Schema
from miniapp_api.core.fields import EnumString, Instant
from miniapp_api.identity.schemas import ResidentSchema
from models import LinkStatus, Relation

Str = fields.String


class LinkRequestSchema(Schema):
    parent_id_number = Str(required=True, validate=validate.Length(max=64))  # format: invalid_id_number
    parent_name = Str(required=True, validate=validate.Length(1, 64))
    relation = Str(
        required=True,
        validate=validate.OneOf(list(Relation)),
        metadata={"description": "child | spouse | other_supporter"},
    )


class LinkSchema(Schema):
    """A `family.service.LinkView`: the link and the years its supporter paid."""

    link_id = Str(attribute="link.public_id")
    status = EnumString(
        LinkStatus, attribute="link.status", metadata={"description": "active | pending (removed links are not listed)"}
    )
    relation = EnumString(Relation, attribute="link.relation")
    via_registry = fields.Boolean(
        attribute="link.via_registry", metadata={"description": "active at once: the registry lists the supporter"}
    )
    parent = fields.Nested(ResidentSchema, attribute="link.parent")
    supporter = fields.Nested(ResidentSchema, attribute="link.supporter")
    created_at = Instant(attribute="link.created_at")
    approved_at = Instant(attribute="link.approved_at", allow_none=True)
    paid_years = fields.List(
        fields.Integer(), metadata={"description": "years of the parent's paid contributions this supporter paid"}
    )


class LinksSchema(Schema):
    as_supporter = fields.List(fields.Nested(LinkSchema), metadata={"description": "people you act for"})
    as_parent = fields.List(fields.Nested(LinkSchema), metadata={"description": "people who act for you"})
