"""Sandbox agency (placeholder: being written)."""
from flask import Blueprint

bp = Blueprint("sandbox_agency", __name__)
