"""The four ways to embed a form: hosted page, iframe, script and plain HTML ``<form>``."""

from __future__ import annotations

import json
from functools import lru_cache
from html import escape
from pathlib import Path

from forms.models import Form
from forms.public import HONEYPOT, PublicForm, field_schema, snapshot
from gateway import runtime
from gateway.templating import environment

STATIC_DIR = Path(__file__).resolve().parent / "static"
PUBLIC_TEXTS = ("title", "intro", "submit", "consent", "invalid", "failed", "too_fast")


def snippets(form: PublicForm, base_url: str) -> dict[str, str]:
    """Ready-to-paste snippets: ``hosted`` (a URL), ``iframe``, ``script`` and ``html``."""
    base = base_url.rstrip("/")
    hosted = f"{base}/f/{form.slug}"
    title = escape(form.name, quote=True)
    return {
        "hosted": hosted,
        "iframe": (f'<iframe src="{hosted}?embed=iframe" title="{title}" loading="lazy" '
                   'style="width:100%;max-width:34rem;height:40rem;border:0"></iframe>'),
        "script": (f'<div data-inlet-form="{form.slug}"></div>\n'
                   f'<script src="{hosted}/embed.js" async></script>'),
        "html": html_snippet(form, base),
    }


def snippets_for(form: Form, base_url: str | None = None) -> dict[str, str]:
    """``snippets`` of a stored form (admin UI, CLI): call inside a database connection."""
    return snippets(snapshot(form), base_url or runtime.settings().base_url)


def html_snippet(form: PublicForm, base: str) -> str:
    """A plain ``<form method="post">`` that works with JavaScript off (first language)."""
    language = form.languages[0]
    template = environment.get_template("forms/_form.html")
    return template.render(form=form, fields=field_schema(form, language), language=language,
                           t=form.texts_in(language), action=f"{base}/f/{form.slug}",
                           ts=None, embed="html", honeypot=HONEYPOT, redirect=None,
                           message=None, target=None).strip()


@lru_cache(maxsize=1)
def _script_source() -> str:
    return (STATIC_DIR / "embed.js").read_text(encoding="utf-8")


def script_json(value) -> str:
    """JSON that is safe inside a ``<script>``/JS file (no ``</script>``, no U+2028)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                       ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


def embed_js(form: PublicForm, *, action: str, language: str, ts: str,
             allowed: list[str] | None = None, refused_text: str = "") -> str:
    """The script embed for one visitor: the renderer plus this form's fields and texts;
    on a page whose origin is not in ``allowed`` it shows ``refused_text`` instead."""
    t = form.texts_in(language)
    config = {"slug": form.slug, "action": action, "language": language, "ts": ts,
              "honeypot": HONEYPOT, "fields": field_schema(form, language),
              "texts": {key: t[key] for key in PUBLIC_TEXTS},
              "allowed": allowed, "refused": refused_text}
    return _script_source().replace("/*CONFIG*/", script_json(config), 1)
