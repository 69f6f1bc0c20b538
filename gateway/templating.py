"""The one Jinja2 environment for pages and mails (auto-escaping on, texts translated)."""

from __future__ import annotations

from pathlib import Path

import jinja2
from starlette.templating import Jinja2Templates

from gateway import i18n

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,  # every template, .html or not: user data must render inert
    undefined=jinja2.StrictUndefined,
    # {{ _("…") }}, {{ ngettext(…) }} and {% trans %} in the task's language (gateway.i18n)
    extensions=["jinja2.ext.i18n"],
)
# newstyle: ``_("Hello %(name)s", name=x)`` escapes ``x`` and fails loudly on a missing name
environment.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True,
                                      pgettext=i18n.pgettext)
environment.globals.update(language=i18n.current, number=i18n.number,
                           language_names=i18n.NAMES)
templates = Jinja2Templates(env=environment)


def render_string(source: str, **context) -> str:
    """Render a template held as text (e.g. a mail body an account wrote), auto-escaped."""
    return environment.from_string(source).render(**context)
