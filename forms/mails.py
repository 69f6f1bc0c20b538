"""Rendering of the confirmation and welcome mails from a form's (account-written) templates.

Account-written templates run in Jinja2's sandbox: a tenant must never reach Python internals
through ``{{ ''.__class__ }}``. The text part is rendered without escaping (it is not HTML);
the HTML part renders the same body auto-escaped inside ``templates/mail/<kind>.html``.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import FileSystemLoader, StrictUndefined, TemplateSyntaxError
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from forms.texts import mail_for
from gateway.templating import TEMPLATES_DIR, environment

# Text parts are not HTML: escaping would turn "O'Brien" into "O&#39;Brien".
_text_env = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined,
                                 loader=FileSystemLoader(TEMPLATES_DIR))
_html_env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
MAIL_VARIABLES = ("first_name", "name", "email", "form_name", "confirm_url", "unsubscribe_url")


class MailTemplateError(ValueError):
    """An account-written mail template does not compile or render."""


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool):
    """Compiling is the slow part of rendering: a drain renders the same few sources."""
    return (_html_env if html else _text_env).from_string(source)


def check_template(source: str) -> None:
    """Raise ``MailTemplateError`` if ``source`` does not render with sample values."""
    sample = {name: "x" for name in MAIL_VARIABLES}
    try:
        _text_env.from_string(source).render(**sample)
    except (TemplateSyntaxError, SecurityError, UndefinedError, TypeError) as exc:
        raise MailTemplateError(str(exc)) from None


def _paragraphs(html_body: str) -> Markup:
    """Blank lines become paragraphs, single newlines line breaks (input is already escaped)."""
    # html_body comes from the auto-escaping sandbox: marking it safe adds no markup.
    safe = Markup(html_body)  # noqa: S704
    parts = [p.replace("\n", Markup("<br>\n")) for p in safe.split("\n\n")]
    return Markup("\n").join(Markup("<p>") + p + Markup("</p>") for p in parts if p.strip())


def render_mail(overrides: dict, kind: str, language: str, context: dict) -> dict:
    """``{"subject", "text", "html"}`` of a ``kind`` mail (confirm, welcome) in ``language``."""
    spec = mail_for(overrides, kind, language)
    ctx = {name: context.get(name) or "" for name in MAIL_VARIABLES}
    subject = " ".join(_compiled(spec["subject"], False).render(**ctx).split())
    text = _compiled(spec["body"], False).render(**ctx).strip() + "\n"
    body_html = _paragraphs(_compiled(spec["body"], True).render(**ctx).strip())
    layout = environment.get_template(f"mail/{kind}.html")
    html = layout.render(subject=subject, body=body_html, language=language,
                         confirm_url=ctx["confirm_url"], unsubscribe_url=ctx["unsubscribe_url"])
    text = _text_env.get_template(f"mail/{kind}.txt").render(body=text, subject=subject)
    return {"subject": subject[:300], "text": text, "html": html}
