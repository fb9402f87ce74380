"""Sandbox tax_bureau (placeholder: being written)."""
from flask import Blueprint

bp = Blueprint("sandbox_tax_bureau", __name__)
