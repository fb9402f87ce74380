"""Sandbox wechat (placeholder: being written)."""
from flask import Blueprint

bp = Blueprint("sandbox_wechat", __name__)
