"""Hooks as resources: create, list, change, delete, rotate secrets, dry runs, deliveries.

Every function takes the caller's ``account_id`` first and never touches another account's
hooks (404). They run blocking store work: call them inside ``db.connection_context()`` —
e.g. through ``gateway.web.in_db`` — from the API, the CLI or the admin UI.

* ``create_hook(account_id, data)`` → ``(hook, secret)``: the secret is shown only here.
* ``list_hooks``, ``get_hook``, ``update_hook``, ``delete_hook``, ``to_dict(hook)``.
* ``rotate_secret(account_id, hook_id)`` → ``(hook, new secret)``; the old one keeps
  working for ``ROTATION_OVERLAP`` (24 h) so senders can switch without losing deliveries.
* ``test_hook(account_id, hook_id, payload)``: dry run, what each record would become.
* ``list_deliveries(account_id, hook_id, status=None)``, ``dead_letters(...)``,
  ``replay(account_id, hook_id, delivery_id)``, ``replay_all(account_id, hook_id)``.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors import mapping
from connectors.models import (
    AUTH_MODES,
    DELETE_ACTIONS,
    DELIVERY_STATUSES,
    HOOK_STATUSES,
    KINDS,
    Delivery,
    Hook,
)
from connectors.signatures import derive_secret
from gateway import runtime
from gateway.db import db, utcnow
from gateway.errors import BadRequest, NotFound, ValidationFailed
from gateway.i18n import N_, _
from gateway.models import Vocabulary
from gateway.tenancy import owned
from gateway.validation import AccountVocabulary

ROTATION_OVERLAP = timedelta(hours=24)
CONFIG_TTL = 5.0  # seconds a web process trusts its cached copy of a hook
EDITABLE = ("name", "auth", "source", "language", "mapping", "language_map", "consent_text",
            "contact_status", "form_id", "on_delete", "id_path", "enabled")


# ---- hooks ---------------------------------------------------------------------------------

def create_hook(account_id: int, data: dict) -> tuple[Hook, str]:
    """A new hook; returns it with its secret (shown once, never stored)."""
    if not isinstance(data, dict):
        raise BadRequest(N_("The body must be a JSON object."))
    kind = data.get("kind", "generic")
    if kind not in KINDS:
        raise ValidationFailed(details=[{"field": "kind", "code": "invalid", "value": kind,
                                         "message": _("kind is generic or efficy.")}])
    if kind == "generic" and not data.get("mapping"):
        # No mapping given: the flat body the README shows, custom fields by their names.
        fields = AccountVocabulary.load(account_id).fields
        data = {**data, "mapping": mapping.flat(sorted(fields))}
    values = _checked(account_id, kind, {"auth": "standard-webhooks", "mapping": {},
                                         "language_map": {}, "contact_status": "confirmed",
                                         "on_delete": "ignore", "enabled": True, **data},
                      creating=True)
    salt = secrets.token_hex(16)
    hook = Hook.create(account=account_id, kind=kind, secret_salt=salt, **values)
    forget(hook.id)  # SQLite may reuse a deleted hook's id: drop its remembered absence
    return hook, derive_secret(runtime.settings().secret_key, salt)


def list_hooks(account_id: int) -> list[Hook]:
    """The account's hooks, oldest first."""
    return list(Hook.select().where(Hook.account == account_id).order_by(Hook.id))


def get_hook(account_id: int, hook_id) -> Hook:
    """One hook of this account, or 404."""
    return owned(Hook, account_id, hook_id, "hook")


def update_hook(account_id: int, hook_id, data: dict) -> Hook:
    """Change a hook's settings (the kind is fixed); takes effect within ``CONFIG_TTL``."""
    hook = get_hook(account_id, hook_id)
    if not isinstance(data, dict):
        raise BadRequest(N_("The body must be a JSON object."))
    if "kind" in data and data["kind"] != hook.kind:
        raise ValidationFailed(details=[{"field": "kind", "code": "immutable",
                                         "message": _("The kind of a hook cannot change.")}])
    current = {name: getattr(hook, name) for name in EDITABLE}
    values = _checked(account_id, hook.kind, {**current, **data}, creating=False)
    for name, value in values.items():
        setattr(hook, name, value)
    hook.updated_at = utcnow()
    hook.save()
    forget(hook.id)
    return hook


def delete_hook(account_id: int, hook_id) -> None:
    """Remove a hook with its delivery log (contacts it brought in stay)."""
    hook = get_hook(account_id, hook_id)
    with db.atomic():
        hook.delete_instance(recursive=True)
    forget(hook.id)


def rotate_secret(account_id: int, hook_id, now: datetime | None = None) -> tuple[Hook, str]:
    """A new secret; the previous one stays valid for ``ROTATION_OVERLAP``."""
    hook = get_hook(account_id, hook_id)
    hook.previous_salt = hook.secret_salt
    hook.previous_expires_at = (now or utcnow()) + ROTATION_OVERLAP
    hook.secret_salt = secrets.token_hex(16)
    hook.updated_at = utcnow()
    hook.save()
    forget(hook.id)
    return hook, derive_secret(runtime.settings().secret_key, hook.secret_salt)


def to_dict(hook: Hook) -> dict:
    """The API shape of a hook (never its secret)."""
    base = runtime.settings().base_url
    path = f"/hooks/efficy/{hook.id}" if hook.kind == "efficy" else f"/hooks/{hook.id}"
    rotating = (hook.previous_expires_at if hook.previous_expires_at
                and hook.previous_expires_at > utcnow() else None)
    return {"id": hook.id, "kind": hook.kind, "name": hook.name, "auth": hook.auth,
            "url": base + path, "source": hook.source, "language": hook.language,
            "mapping": hook.mapping or {}, "language_map": hook.language_map or {},
            "consent_text": hook.consent_text, "contact_status": hook.contact_status,
            "form_id": hook.form_id, "on_delete": hook.on_delete, "id_path": hook.id_path,
            "enabled": hook.enabled,
            "previous_secret_valid_until": _iso(rotating),
            "created_at": _iso(hook.created_at), "updated_at": _iso(hook.updated_at)}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def _checked(account_id: int, kind: str, data: dict, *, creating: bool) -> dict:
    """The editable values of ``data``, validated against the account; 422 otherwise."""
    unknown = set(data) - set(EDITABLE) - {"kind"}
    details = [{"field": name, "code": "unknown_field",
                "message": _("Unknown field '%(field)s'.") % {"field": name}}
               for name in sorted(unknown)]
    vocab = AccountVocabulary.load(account_id)
    values = {name: data.get(name) for name in EDITABLE}
    name = values["name"]
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        details.append({"field": "name", "code": "required",
                        "message": _("A name of 1 to 200 characters is required.")})
    else:
        values["name"] = name.strip()
    _choice(details, values, "auth", AUTH_MODES)
    _choice(details, values, "contact_status", HOOK_STATUSES)
    _choice(details, values, "on_delete", DELETE_ACTIONS)
    if not isinstance(values["mapping"] or {}, dict) or not isinstance(
            values["language_map"] or {}, dict):
        raise ValidationFailed(_("mapping and language_map are JSON objects."), details=[
            {"field": "mapping", "code": "invalid", "message": _("An object.")}])
    if not isinstance(values["enabled"], bool):
        details.append({"field": "enabled", "code": "invalid",
                        "message": _("true or false.")})
    details.extend(_mapping_problems(kind, values))
    details.extend(_default_problems(account_id, vocab, kind, values))
    details.extend(_form_problems(account_id, values))
    for field_name, limit in (("consent_text", 5000), ("id_path", 200)):
        value = values[field_name]
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            details.append({"field": field_name, "code": "invalid",
                            "message": _("Text of at most %(num)s characters.")
                            % {"num": limit}})
        elif isinstance(value, str) and not value.strip():
            values[field_name] = None
    if details:
        raise ValidationFailed(_("The hook is not valid."), details=details)
    return values


def _choice(details: list, values: dict, name: str, allowed) -> None:
    if values[name] not in allowed:
        details.append({"field": name, "code": "invalid", "value": values[name],
                        "message": _("%(field)s is one of %(choices)s.")
                        % {"field": name, "choices": ", ".join(allowed)}})


def _mapping_problems(kind: str, values: dict) -> list:
    values["mapping"] = values["mapping"] or {}
    values["language_map"] = values["language_map"] or {}
    try:
        mapping.check(values["mapping"], values["language_map"],
                      required_email=kind == "generic")
    except ValidationFailed as exc:
        return exc.details
    return []


def _default_problems(account_id: int, vocab: AccountVocabulary, kind: str,
                      values: dict) -> list:
    details = []
    source, language = values["source"], values["language"]
    for name, value in (("source", source), ("language", language)):
        if value is not None and not isinstance(value, str):
            values[name] = None
            details.append({"field": name, "code": "invalid", "message": _("Text, or null.")})
    if details:
        return details
    if source in (None, ""):
        values["source"] = None
        if kind == "efficy" or "source" not in values["mapping"]:
            details.append({"field": "source", "code": "required",
                            "message": _("Give the source new contacts get (or map one).")})
    elif source not in vocab.sources:
        details.append({"field": "source", "code": "unknown_source", "value": source,
                        "message": _("Unknown source '%(value)s'.") % {"value": source}})
    if language in (None, ""):
        # New contacts need a language: the account's first one unless told otherwise.
        first = (Vocabulary.select(Vocabulary.name).where(
            (Vocabulary.account == account_id) & (Vocabulary.kind == "language"))
            .order_by(Vocabulary.id).first())
        values["language"] = first.name if first else None
    elif not isinstance(language, str) or language.lower() not in vocab.languages:
        details.append({"field": "language", "code": "unknown_language", "value": language,
                        "message": _("Use one of the account's language codes.")})
    else:
        values["language"] = language.lower()
    return details


def _form_problems(account_id: int, values: dict) -> list:
    if values["contact_status"] != "unconfirmed":
        return []
    form_id = values["form_id"]
    if form_id is None:
        return [{"field": "form_id", "code": "required",
                 "message": _("Unconfirmed contacts get the opt-in mail of a form: "
                              "choose one.")}]
    try:
        from forms.models import Form
    except ImportError:  # forms area not installed: nothing to check against
        return []
    if not isinstance(form_id, int) or isinstance(form_id, bool) or not Form.get_or_none(
            (Form.id == form_id) & (Form.account == account_id)):
        return [{"field": "form_id", "code": "unknown_form", "value": form_id,
                 "message": _("No such form in this account.")}]
    return []


# ---- dry run -------------------------------------------------------------------------------

def test_hook(account_id: int, hook_id, payload) -> dict:
    """What ``payload`` would become, record by record, without writing anything."""
    from connectors import records
    hook = get_hook(account_id, hook_id)
    ctx = records.Context.load(hook)
    steps, skipped = records.plan(ctx, payload)
    views = [records.describe(step, records.predict(ctx, step)) for step in steps]
    counts = _count(v["outcome"] for v in views)
    counts["skipped"] = skipped
    return {"records": views, "counts": counts}


def _count(outcomes) -> dict:
    counts = dict.fromkeys(("created", "updated", "unchanged", "blacklisted", "ignored",
                            "failed"), 0)
    for outcome in outcomes:
        counts[outcome] += 1
    return counts


# ---- deliveries ------------------------------------------------------------------------------

def delivery_to_dict(delivery: Delivery, *, payload: bool = False) -> dict:
    """The API shape of a delivery (the payload only when asked)."""
    data = {"id": delivery.id, "hook_id": delivery.hook_id, "webhook_id": delivery.webhook_id,
            "status": delivery.status, "attempts": delivery.attempts,
            "replays": delivery.replays, "result": delivery.result or {},
            "error": delivery.error, "received_at": _iso(delivery.received_at),
            "processed_at": _iso(delivery.processed_at),
            "updated_at": _iso(delivery.updated_at)}
    if payload:
        data["payload"] = delivery.payload
    return data


def list_deliveries(account_id: int, hook_id, *, status: str | None = None,
                    limit: int = 50) -> list[Delivery]:
    """The hook's most recent deliveries (optionally of one status), newest first."""
    hook = get_hook(account_id, hook_id)
    if not 1 <= limit <= 500:
        raise BadRequest(_("limit must be between %(low)s and %(high)s.")
                         % {"low": 1, "high": 500})
    if status not in (None, *DELIVERY_STATUSES):
        raise BadRequest(_("status must be one of %(choices)s.")
                         % {"choices": ", ".join(DELIVERY_STATUSES)})
    where = Delivery.hook == hook.id
    if status:
        where &= Delivery.status == status
    return list(Delivery.select().where(where)
                .order_by(Delivery.received_at.desc(), Delivery.id.desc()).limit(limit))


def dead_letters(account_id: int, hook_id, limit: int = 100) -> list[Delivery]:
    """Deliveries that failed for good, newest first."""
    return list_deliveries(account_id, hook_id, status="dead", limit=limit)


def get_delivery(account_id: int, hook_id, delivery_id: str) -> Delivery:
    """One delivery of one of this account's hooks, or 404."""
    hook = get_hook(account_id, hook_id)
    delivery = Delivery.get_or_none((Delivery.id == str(delivery_id))
                                    & (Delivery.hook == hook.id))
    if delivery is None:
        raise NotFound(N_("No such delivery."))
    return delivery


def replay(account_id: int, hook_id, delivery_id: str) -> Delivery:
    """Queue a dead delivery again (with fresh retries); 409 if it is not dead."""
    from gateway.errors import Conflict
    delivery = get_delivery(account_id, hook_id, delivery_id)
    if delivery.status != "dead":
        raise Conflict(_("Only dead deliveries can be replayed; this one is %(status)s.")
                       % {"status": delivery.status})
    return _requeue(delivery)


def replay_all(account_id: int, hook_id) -> list[Delivery]:
    """Queue every dead delivery of the hook again.

    Each one is queued or left dead on its own: when the queue fails half-way (503), the
    ones before are queued and the rest stay dead, so a retry replays the rest.
    """
    return [_requeue(d) for d in dead_letters(account_id, hook_id, limit=500)]


def _requeue(delivery: Delivery) -> Delivery:
    """Mark a dead delivery queued, then queue its job; undo the mark if the queue refuses.

    The mark comes first and is committed (a job may start at once and must find it); a
    refused enqueue puts the row back as it was, so the 503 means "nothing changed" and the
    dead letter stays replayable. ``requeue_stuck`` recovers a mark whose undo was lost.
    """
    from connectors import jobs
    replays = delivery.replays + 1
    changed = (Delivery.update(status="queued", attempts=0, replays=replays, updated_at=utcnow())
               .where((Delivery.id == delivery.id) & (Delivery.status == "dead")).execute())
    if changed:  # a concurrent replay of the same delivery queues it only once
        try:
            runtime.queue().enqueue(jobs.process_delivery, delivery.id,
                                    job_id=f"delivery-{delivery.id}-replay-{replays}")
        except Exception:
            (Delivery.update(status="dead", attempts=delivery.attempts,
                             replays=delivery.replays, updated_at=delivery.updated_at)
             .where((Delivery.id == delivery.id) & (Delivery.status == "queued")
                    & (Delivery.replays == replays)).execute())
            raise
    return Delivery.get_by_id(delivery.id)


# ---- the hot path's view of a hook -----------------------------------------------------------

@dataclass(frozen=True)
class HookConfig:
    """What the receiving endpoint needs, cached per process for ``CONFIG_TTL`` seconds."""

    id: int
    account_id: int
    kind: str
    auth: str
    enabled: bool
    secrets: tuple[str, ...]
    id_path: str | None
    expires: float
    owner: object  # the settings it was loaded under: a re-configured process reloads

    @property
    def exists(self) -> bool:
        """False for the remembered absence of a hook."""
        return bool(self.kind)


# Bounded: probing random hook ids must not grow a process's memory. Unknown ids have their
# own, smaller table so a probe can't push the real hooks out.
MAX_CACHED_HOOKS = 4096
MAX_CACHED_ABSENT = 1024
_cache: dict[int, HookConfig] = {}
_absent: dict[int, HookConfig] = {}
_cache_lock = threading.Lock()


def _remember(table: dict[int, HookConfig], limit: int, config: HookConfig) -> None:
    """Keep ``config``, dropping the oldest entries beyond ``limit`` (insertion order)."""
    with _cache_lock:
        table.pop(config.id, None)
        table[config.id] = config
        while len(table) > limit:
            del table[next(iter(table))]


def cached_config(hook_id: int, now: float | None = None) -> HookConfig | None:
    """The cached config of a hook when still fresh (no database access)."""
    config = _cache.get(hook_id) or _absent.get(hook_id)
    if (config and config.owner is runtime.settings()
            and config.expires > (time.monotonic() if now is None else now)):
        return config
    return None


def load_config(hook_id: int) -> HookConfig:
    """Read a hook's config from the store and cache it (``exists`` False: no such hook)."""
    hook = Hook.get_or_none(Hook.id == hook_id)
    if hook is None:
        # remembered too: probing unknown hook ids must not cost a query each
        config = HookConfig(hook_id, 0, "", "", False, (), None,
                            time.monotonic() + CONFIG_TTL, runtime.settings())
        _remember(_absent, MAX_CACHED_ABSENT, config)
        return config
    key = runtime.settings().secret_key
    valid = [derive_secret(key, hook.secret_salt)]
    if hook.previous_salt and hook.previous_expires_at and hook.previous_expires_at > utcnow():
        valid.append(derive_secret(key, hook.previous_salt))
    # Never cache past the end of a rotation overlap.
    ttl = CONFIG_TTL
    if hook.previous_expires_at and hook.previous_expires_at > utcnow():
        ttl = min(ttl, (hook.previous_expires_at - utcnow()).total_seconds())
    config = HookConfig(hook.id, hook.account_id, hook.kind, hook.auth, hook.enabled,
                        tuple(valid), hook.id_path, time.monotonic() + ttl,
                        runtime.settings())
    with _cache_lock:
        _absent.pop(hook_id, None)
    _remember(_cache, MAX_CACHED_HOOKS, config)
    return config


def forget(hook_id: int) -> None:
    """Drop a hook from this process's cache (after a change)."""
    with _cache_lock:
        _cache.pop(hook_id, None)
        _absent.pop(hook_id, None)


def cached_count() -> tuple[int, int]:
    """How many known and unknown hook ids this process holds (for tests and metrics)."""
    return len(_cache), len(_absent)
