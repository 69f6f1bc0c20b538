"""The confirmation and welcome mails: rendered from a form's (account-written) templates and
queued (within the daily cap for confirmations) with the link each carries.

Account-written templates run in Jinja2's sandbox: a tenant must never reach Python internals
through ``{{ ''.__class__ }}``. The text part is rendered without escaping (it is not HTML);
the HTML part renders the same body auto-escaped inside ``templates/mail/<kind>.html``.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from jinja2 import FileSystemLoader, StrictUndefined, TemplateSyntaxError
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from forms import sql, tokens
from forms.models import Confirmation, UnsubscribeLink
from forms.public import PublicForm, public_form_by_id
from forms.texts import mail_for
from gateway import runtime
from gateway.db import db, is_postgres, utcnow
from gateway.mail import queue_mail, schedule_delivery
from gateway.models import Contact
from gateway.templating import TEMPLATES_DIR, environment

# Text parts are not HTML: escaping would turn "O'Brien" into "O&#39;Brien".
_text_env = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined,
                                 loader=FileSystemLoader(TEMPLATES_DIR))
_html_env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
MAIL_VARIABLES = ("first_name", "name", "email", "form_name", "confirm_url", "unsubscribe_url")
MAX_CONFIRMATION_MAILS = 3  # per address per 24 h: the form must not be a mail bomb
CONFIRMATION_WINDOW = timedelta(hours=24)


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


def render_mail(overrides: dict, kind: str, language: str, context: dict, *,
                account_name: str = "", site_url: str | None = None) -> dict:
    """``{"subject", "text", "html"}`` of a ``kind`` mail (confirm, welcome) in ``language``;
    the HTML part is signed with the account's name (and its website, when set)."""
    spec = mail_for(overrides, kind, language)
    ctx = {name: context.get(name) or "" for name in MAIL_VARIABLES}
    subject = " ".join(_compiled(spec["subject"], False).render(**ctx).split())
    text = _compiled(spec["body"], False).render(**ctx).strip() + "\n"
    body_html = _paragraphs(_compiled(spec["body"], True).render(**ctx).strip())
    layout = environment.get_template(f"mail/{kind}.html")
    html = layout.render(subject=subject, body=body_html, language=language,
                         confirm_url=ctx["confirm_url"], unsubscribe_url=ctx["unsubscribe_url"],
                         account_name=account_name, site_url=site_url)
    text = _text_env.get_template(f"mail/{kind}.txt").render(
        body=text, subject=subject, account_name=account_name, site_url=site_url)
    return {"subject": subject[:300], "text": text, "html": html}


def send_confirmation(form_id: int, contact_id: int, *, language: str | None = None
                      ) -> Confirmation | None:
    """Send the double opt-in mail of form ``form_id`` to contact ``contact_id``.

    For other areas too (connectors: "send the opt-in mail of this form to a hook contact").
    Call inside ``db.connection_context()`` (a job). Sends nothing and returns None when the
    contact is not unconfirmed (confirmed or blacklisted), belongs to another account, or
    already got ``MAX_CONFIRMATION_MAILS`` confirmation mails in the last 24 hours; else
    stores a ``Confirmation`` (the single-use link) and queues the mail through
    ``gateway.mail.queue_mail``. ``language`` defaults to the contact's language when the
    form speaks it, else the form's first language.
    """
    form = public_form_by_id(form_id)
    contact = Contact.get_or_none(Contact.id == contact_id)
    if form is None or contact is None:
        return None
    with db.atomic():
        confirmation = queue_confirmation(form, contact, language)
    if confirmation is not None:
        schedule_delivery()  # after the commit: a drain must find the mail
    return confirmation


def queue_confirmation(form: PublicForm, contact: Contact, language: str | None
                        ) -> Confirmation | None:
    """``send_confirmation`` on loaded rows, without scheduling delivery: call inside a
    transaction, and ``schedule_delivery()`` after it when this returns a confirmation."""
    if contact.account_id != form.account_id or contact.status != "unconfirmed":
        return None
    _lock_contact(contact.id)  # two workers mailing one address must not both pass the cap
    since = utcnow() - CONFIRMATION_WINDOW
    if sql.run(sql.CONFIRMATIONS_SINCE, contact.id, since).fetchone()[0] >= MAX_CONFIRMATION_MAILS:
        return None
    lang = mail_language(form, contact, language)
    settings = runtime.settings()
    confirmation = Confirmation.create(form=form.id, contact=contact.id, language=lang)
    token = tokens.confirm_token(settings.secret_key, confirmation.id, confirmation.nonce)
    mail = render_mail(form.mails, "confirm", lang, {
        **person(contact), "form_name": form.name,
        "confirm_url": f"{settings.base_url}/confirm/{token}"},
        account_name=form.account_name, site_url=form.site_url)
    row = queue_mail(contact.email, mail["subject"], mail["text"], mail["html"],
                     account_id=form.account_id, purpose="form-confirm", schedule=False,
                     headers={"From": form.sender} if form.sender else None)
    sql.run(sql.LINK_MAIL, row.id, confirmation.id)
    confirmation.mail = row.id
    return confirmation


def _lock_contact(contact_id: int) -> None:
    """Hold the contact until the transaction ends: a row lock on PostgreSQL, the write lock
    on SQLite (a write first, so the count after it reads the latest commit)."""
    sql.run(sql.LOCK_CONTACT_PG if is_postgres() else sql.LOCK_CONTACT_SQLITE, contact_id)


def send_welcome(form_id: int, contact_id: int, *, language: str | None = None) -> bool:
    """Queue the form's welcome mail (with List-Unsubscribe) to a confirmed contact."""
    form = public_form_by_id(form_id)
    contact = Contact.get_or_none(Contact.id == contact_id)
    if form is None or contact is None:
        return False
    with db.atomic():  # the link row and its mail, or neither
        if not queue_welcome(form, contact, language):
            return False
    schedule_delivery()
    return True


def queue_welcome(form: PublicForm, contact: Contact, language: str | None) -> bool:
    """``send_welcome`` on loaded rows, without scheduling delivery (see
    ``queue_confirmation``)."""
    if contact.status != "confirmed" or not form.welcome:
        return False
    settings = runtime.settings()
    lang = mail_language(form, contact, language)
    link = UnsubscribeLink.create(contact=contact.id, form=form.id)
    token = tokens.unsubscribe_token(settings.secret_key, link.id, link.nonce)
    unsubscribe = f"{settings.base_url}/unsubscribe/{token}"
    mail = render_mail(form.mails, "welcome", lang, {
        **person(contact), "form_name": form.name, "unsubscribe_url": unsubscribe},
        account_name=form.account_name, site_url=form.site_url)
    sender = {"From": form.sender} if form.sender else {}
    queue_mail(contact.email, mail["subject"], mail["text"], mail["html"],
               account_id=form.account_id, purpose="form-welcome", schedule=False,
               headers={**sender, "List-Unsubscribe": f"<{unsubscribe}>",
                        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    return True


def mail_language(form: PublicForm, contact: Contact, language: str | None) -> str:
    """The language of a form's mail: the asked one or the contact's when the form speaks
    it, else the form's first."""
    for code in (language, contact.language):
        if code and code in form.languages:
            return code
    return form.languages[0]


def person(contact: Contact) -> dict:
    """The mail variables naming a contact."""
    return {"first_name": contact.first_name or "", "name": contact.name or "",
            "email": contact.email}
