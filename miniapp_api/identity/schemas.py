"""Login, real-name binding and the `Resident` object, as API.md shows them."""

from __future__ import annotations

from marshmallow import fields, validate

from miniapp_api.core.api import Schema
from miniapp_api.core.fields import Computed, Date
from miniapp_api.identity import residents
from policy import id_number

Str = fields.String


class LoginSchema(Schema):
    code = Str(required=True, validate=validate.Length(1, 128), metadata={"description": "from wx.login"})


class TokenSchema(Schema):
    access_token = Str()
    token_type = Str(metadata={"enum": ["Bearer"]})
    expires_in = fields.Integer()
    verified = fields.Boolean()


class RealNameSchema(Schema):
    id_number = Str(required=True, validate=validate.Length(max=64))  # format: invalid_id_number
    name = Str(required=True, validate=validate.Length(1, 64))
    # Missing or empty: 422 face_verification_required.
    verify_result = Str(
        allow_none=True,
        validate=validate.Length(max=1024),
        metadata={"description": "from wx.startFacialRecognitionVerify for this name and ID number; used once"},
    )


class ResidentSchema(Schema):
    """A `models.Resident`, masked."""

    resident_id = Str(attribute="public_id")
    name = Computed(lambda resident: id_number.mask_name(resident.name), "string", description="masked: 王*国")
    id_number = Computed(residents.masked_id_number, "string", description="masked: 1401**********0017")
    birth_date = Date()
    age = Computed(residents.age_today, "integer")
    gender = Str(metadata={"enum": ["M", "F"]})
    region_code = Str()
    region_name = Str()


class RealNameResultSchema(Schema):
    resident = fields.Nested(ResidentSchema)


class MeSchema(Schema):
    verified = fields.Boolean()
    resident = fields.Nested(ResidentSchema, allow_none=True)
    dependents = fields.List(fields.Nested(ResidentSchema))
