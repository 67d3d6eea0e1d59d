"""Citizen pages (placeholder until the citizen flow lands)."""
from flask import Blueprint

bp = Blueprint("citizen", __name__)
