"""Request and response schemas of the family links (API.md 'Family')."""
from marshmallow import fields, validate

from models.family import RELATIONS

from .api import Schema
from .schemas import ResidentSchema

Str = fields.String


class LinkRequestSchema(Schema):
    parent_id_number = Str(required=True, validate=validate.Length(max=64))  # format: invalid_id_number
    parent_name = Str(required=True, validate=validate.Length(1, 64))
    relation = Str(required=True, validate=validate.OneOf(RELATIONS),
                   metadata={"description": "child | spouse | other_supporter"})


class LinkSchema(Schema):
    link_id = Str()
    status = Str(metadata={"description": "active | pending (removed links are not listed)"})
    relation = Str()
    via_registry = fields.Boolean(metadata={"description": "active at once: the registry lists the supporter"})
    parent = fields.Nested(ResidentSchema)
    supporter = fields.Nested(ResidentSchema)
    created_at = Str()
    approved_at = Str(allow_none=True)
    paid_years = fields.List(fields.Integer(), metadata={
        "description": "years of the parent's paid contributions this supporter paid"})


class LinksSchema(Schema):
    as_supporter = fields.List(fields.Nested(LinkSchema), metadata={"description": "people you act for"})
    as_parent = fields.List(fields.Nested(LinkSchema), metadata={"description": "people who act for you"})
