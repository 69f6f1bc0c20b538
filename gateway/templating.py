"""The one Jinja2 environment for pages and mails (auto-escaping on)."""

from __future__ import annotations

from pathlib import Path

import jinja2
from starlette.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,  # every template, .html or not: user data must render inert
    undefined=jinja2.StrictUndefined,
)
templates = Jinja2Templates(env=environment)


def render_string(source: str, **context) -> str:
    """Render a template held as text (e.g. a mail body an account wrote), auto-escaped."""
    return environment.from_string(source).render(**context)
