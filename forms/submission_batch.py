"""Submissions in batches: the intake's ``many`` variant of ``submissions.handle_submission``.

One transaction per batch: the batch's contacts are merged through
``gateway.contacts.upsert_many`` (the one merge path; the same address twice in a batch is
applied in rounds, in arrival order), then the ``Submission`` rows, the confirmation and
unsubscribe links (random nonces) and their mails are written set-based. Same outcomes as
``handle_submission`` item by item, and idempotent per item id: an item already written is
skipped (a crashed single run's owed mail is sent by ``handle_submission``, once).
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from forms import sql, tokens
from forms.mails import (
    CONFIRMATION_WINDOW,
    MAX_CONFIRMATION_MAILS,
    mail_language,
    person,
    render_mail,
)
from forms.public import PublicForm, form_reference, public_form_by_id
from forms.submissions import handle_submission, owed_mail, unclean
from gateway import runtime
from gateway.contacts import Provenance, upsert_many
from gateway.db import db, is_postgres, run_many, utcnow
from gateway.mail import schedule_delivery
from gateway.models import OutgoingMail
from gateway.validation import clean_contact

_SUBMISSION = ("id", "form_id", "contact_id", "outcome", "mail_sent", "created_at")
_CONFIRMATION = ("id", "form_id", "contact_id", "nonce", "language", "mail_id", "created_at",
                 "confirmed", "welcome_sent")
_UNSUBSCRIBE = ("id", "contact_id", "form_id", "nonce", "created_at")
_MAIL = ("id", "account_id", "to", "subject", "text", "html", "headers", "purpose", "status",
         "created_at", "attempts")


def handle_many(entries: list[tuple[str, dict]]) -> None:
    """Write a batch of accepted submissions in one transaction; mails scheduled after it."""
    with db.connection_context():
        done = {row[0]: row[1:] for row in sql.run_in(sql.SUBMISSIONS_DONE,
                                                      [item_id for item_id, _ in entries])}
        fresh = [(item_id, item) for item_id, item in entries if item_id not in done]
        mailed = False
        if fresh:
            forms = {form_id: public_form_by_id(form_id)
                     for form_id in {item["form_id"] for _, item in fresh}}
            with db.atomic():
                mailed = _write(fresh, forms)
        if mailed:
            schedule_delivery()  # after the commit: a drain must find the mails
        for item_id, item in entries:  # a single run crashed between its write and its mail
            found = done.get(item_id)
            if found and found[0] is not None and not found[2]:
                handle_submission(item_id, item)


def _write(fresh: list[tuple[str, dict]], forms: dict[int, PublicForm | None]) -> bool:
    """Contacts, submissions, links and mails of the batch; True when mails were queued."""
    now = utcnow()
    rows, plans = [], []
    for item_id, item in fresh:
        form = forms[item["form_id"]]
        if form is None:
            continue  # form gone: nothing to write, as handle_submission
        # Re-validate: the account's vocabularies may have changed since the request.
        clean, errors = clean_contact(form.vocab, unclean(item["contact"]), creating=True)
        if errors:
            rows.append((item_id, form.id, None, "invalid", True, now))
        else:
            plans.append(SimpleNamespace(id=item_id, item=item, form=form, clean=clean,
                                         key=(form.account_id, clean["email"])))
    status_of = _stored_status(plans)
    for round_ in _rounds(plans):
        _merge_round(round_, status_of)
    mails = _queue_mails([p for p in plans if p.kind], now)
    stamp = now if is_postgres() else now.isoformat(" ")
    rows += [(p.id, p.form.id, p.contact_id, p.outcome, True, stamp) for p in plans]
    rows = [(*row[:5], stamp) for row in rows]
    sql.insert_rows("submission", _SUBMISSION, rows)
    return mails > 0


def _stored_status(plans: list) -> dict[tuple[int, str], str]:
    """{(account, e-mail): status} of the batch's known addresses (one query per account)."""
    by_account: dict[int, set[str]] = {}
    for p in plans:
        by_account.setdefault(p.key[0], set()).add(p.key[1])
    found = {}
    for account_id, emails in by_account.items():
        # Sorted: concurrent batches lock shared rows in one order (upsert_many locks too).
        for email, status in sql.run_in(sql.STATUS_BY_EMAIL, sorted(emails), account_id):
            found[(account_id, email)] = status
    return found


def _rounds(plans: list) -> list[list]:
    """Plans split so that an address appears once per round, its rounds in arrival order."""
    rounds: list[list] = []
    seen: dict[tuple[int, str], int] = {}
    for p in plans:
        n = seen.get(p.key, 0)
        seen[p.key] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(p)
    return rounds


def _merge_round(plans: list, status_of: dict) -> None:
    """Merge one round (distinct addresses) through ``upsert_many``, per form and language."""
    groups: dict[tuple[int, str], list] = {}
    for p in plans:
        groups.setdefault((p.form.id, p.item["language"]), []).append(p)
    for (_, language), group in groups.items():
        form = group[0].form
        cleans = []
        for p in group:
            clean = dict(p.clean)
            if p.key in status_of:  # the form's source is for new contacts; the page
                clean.pop("source", None)  # language is only a guess
                if "language" not in form.fields:
                    clean.pop("language", None)
            cleans.append(clean)
        # ip and user agent differ per item: the consent rows get theirs right after.
        provenance = Provenance(channel="form", reference=form_reference(form.id, form.name),
                                actor=form.name, text=form.texts_in(language)["consent"])
        results = upsert_many(form.account_id, cleans,
                              status="unconfirmed" if form.double_opt_in else "confirmed",
                              provenance=provenance, field_types=form.vocab.field_types)
        for p, (contact_id, result) in zip(group, results, strict=True):
            if result.outcome == "incomplete":  # cannot be stored: isolate, as one would fail
                raise ValueError("a submitted contact lacks its language or source")
            _decided(p, contact_id, result, status_of)
        _consent_origins([p for p in group if p.outcome == "created"])


def _decided(p, contact_id: int, result, status_of: dict) -> None:
    """Record a plan's merge: its contact, outcome and owed mail (as ``handle_submission``)."""
    before = status_of.get(p.key)
    contact = SimpleNamespace(id=contact_id, **result.values)
    p.contact_id, p.contact, p.outcome = contact_id, contact, result.outcome
    if before is not None and before != "confirmed" and contact.status == "confirmed":
        p.outcome = "confirmed"
    status_of[p.key] = contact.status
    p.kind = owed_mail(p.form, contact, p.outcome)


def _consent_origins(created: list) -> None:
    """Each new contact's consent record gets its own submission's ip and user agent."""
    rows = []
    for p in created:
        origin = Provenance(channel="form", ip=p.item.get("ip"),
                            user_agent=p.item.get("user_agent"))  # clipped as everywhere
        rows.append((origin.ip, origin.user_agent, p.contact_id))
    run_many(sql.CONSENT_ORIGIN, rows, sql.CONSENT_ORIGIN_PG)


def _queue_mails(plans: list, now: datetime) -> int:
    """The owed confirmation (within the daily cap) and welcome mails; returns how many."""
    since = now - CONFIRMATION_WINDOW
    ids = sorted({p.contact_id for p in plans if p.kind == "confirm"})
    sent = dict(sql.run_in(sql.CONFIRMATIONS_SINCE_MANY, ids, since)) if ids else {}
    confirms, welcomes = [], []
    for p in plans:
        if p.kind == "confirm":
            if sent.get(p.contact_id, 0) >= MAX_CONFIRMATION_MAILS:
                continue  # the form must not be a mail bomb
            sent[p.contact_id] = sent.get(p.contact_id, 0) + 1
            confirms.append(p)
        else:
            welcomes.append(p)
    mail_ids = sql.reserve_ids("outgoing_mail", len(confirms) + len(welcomes))
    stamp = now if is_postgres() else now.isoformat(" ")  # as the driver stores it
    links, mails = _confirmations(confirms, mail_ids[:len(confirms)], stamp)
    unsubscribes, more = _welcomes(welcomes, mail_ids[len(confirms):], stamp)
    sql.insert_rows("outgoing_mail", _MAIL, mails + more)  # first: the links refer to them
    sql.insert_rows("confirmation", _CONFIRMATION, links)
    sql.insert_rows("unsubscribe_link", _UNSUBSCRIBE, unsubscribes)
    return len(mails) + len(more)


def _confirmations(plans: list, mail_ids: list[int], now) -> tuple[list, list]:
    """The rows of the confirmation links and of their mails."""
    settings = runtime.settings()
    links, mails = [], []
    for p, link_id, mail_id in zip(plans, sql.reserve_ids("confirmation", len(plans)),
                                   mail_ids, strict=True):
        lang = mail_language(p.form, p.contact, p.item["language"])
        nonce = tokens.new_nonce()
        token = tokens.confirm_token(settings.secret_key, link_id, nonce)
        links.append((link_id, p.form.id, p.contact_id, nonce, lang, mail_id, now, False,
                      False))
        mail = render_mail(p.form.mails, "confirm", lang, {
            **person(p.contact), "form_name": p.form.name,
            "confirm_url": f"{settings.base_url}/confirm/{token}"},
            account_name=p.form.account_name, site_url=p.form.site_url)
        headers = {"From": p.form.sender} if p.form.sender else {}
        mails.append(_mail_row(mail_id, p, mail, headers, "form-confirm", now))
    return links, mails


def _welcomes(plans: list, mail_ids: list[int], now) -> tuple[list, list]:
    """The rows of the welcome mails' unsubscribe links and of the mails."""
    settings = runtime.settings()
    links, mails = [], []
    for p, link_id, mail_id in zip(plans, sql.reserve_ids("unsubscribe_link", len(plans)),
                                   mail_ids, strict=True):
        lang = mail_language(p.form, p.contact, p.item["language"])
        nonce = tokens.new_nonce()
        links.append((link_id, p.contact_id, p.form.id, nonce, now))
        unsubscribe = (f"{settings.base_url}/unsubscribe/"
                       f"{tokens.unsubscribe_token(settings.secret_key, link_id, nonce)}")
        mail = render_mail(p.form.mails, "welcome", lang, {
            **person(p.contact), "form_name": p.form.name, "unsubscribe_url": unsubscribe},
            account_name=p.form.account_name, site_url=p.form.site_url)
        headers = {"From": p.form.sender} if p.form.sender else {}
        headers.update({"List-Unsubscribe": f"<{unsubscribe}>",
                        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
        mails.append(_mail_row(mail_id, p, mail, headers, "form-welcome", now))
    return links, mails


def _mail_row(mail_id: int, p, mail: dict, headers: dict, purpose: str, now) -> tuple:
    return (mail_id, p.form.account_id, p.contact.email, mail["subject"], mail["text"],
            mail["html"], OutgoingMail.headers.db_value(headers), purpose, "queued", now, 0)
