"""Request and response schemas: they validate bodies and generate the OpenAPI document."""
from marshmallow import fields, validate

from .api import Schema

Str = fields.String
Int = fields.Integer


class LoginSchema(Schema):
    code = Str(required=True, validate=validate.Length(1, 128), metadata={"description": "from wx.login"})


class TokenSchema(Schema):
    access_token = Str()
    token_type = Str()
    expires_in = Int()
    verified = fields.Boolean()


class RealNameSchema(Schema):
    id_number = Str(required=True, validate=validate.Length(1, 32))
    name = Str(required=True, validate=validate.Length(1, 64))


class ResidentSchema(Schema):
    resident_id = Str()
    name = Str(metadata={"description": "masked: 王*国"})
    id_number = Str(metadata={"description": "masked: 1401**********0017"})
    birth_date = Str()
    age = Int()
    gender = Str()
    region_code = Str()
    region_name = Str()


class RealNameResultSchema(Schema):
    resident = fields.Nested(ResidentSchema)


class MeSchema(Schema):
    verified = fields.Boolean()
    resident = fields.Nested(ResidentSchema, allow_none=True)
    dependents = fields.List(fields.Nested(ResidentSchema))
