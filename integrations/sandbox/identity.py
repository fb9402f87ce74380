"""Sandbox identity (placeholder: being written)."""
from flask import Blueprint

bp = Blueprint("sandbox_identity", __name__)
