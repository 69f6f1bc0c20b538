"""API tokens (random, hashed at rest, scoped, revocable) and user passwords."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from gateway.db import utcnow
from gateway.errors import Forbidden, Unauthorized, ValidationFailed
from gateway.i18n import _
from gateway.models import SCOPES, Account, ApiToken, User

TOKEN_PREFIX = "inl_"  # noqa: S105 (a public prefix, not a secret)
DEFAULT_SCOPES = ("contacts:read", "contacts:write", "imports:write")


def hash_token(token: str) -> str:
    """SHA-256 of a token: tokens are 256 random bits, so no slow hash is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(account_id: int, scopes=DEFAULT_SCOPES, name: str = "") -> tuple[ApiToken, str]:
    """Make a token; the plain value is returned once and never stored."""
    scopes = list(dict.fromkeys(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValidationFailed(_("Unknown scopes: %(scopes)s.") % {"scopes": ", ".join(unknown)},
                               details=[{"field": "scopes", "value": unknown,
                                         "allowed": list(SCOPES)}])
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.create(account=account_id, name=name, prefix=plain[:10],
                          token_hash=hash_token(plain), scopes=scopes)
    return row, plain


def revoke_token(account_id: int, token_id: int) -> bool:
    """Revoke one of the account's tokens; False if there is none such."""
    return bool(ApiToken.update(revoked_at=utcnow())
                .where((ApiToken.id == token_id) & (ApiToken.account == account_id)
                       & ApiToken.revoked_at.is_null()).execute())


def parse_authorization(header: str | None) -> tuple[str | None, str]:
    """(account id or None, token) from a Basic or Bearer header; 401 when absent."""
    if not header:
        raise Unauthorized()
    scheme, _sep, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value.strip():
        return None, value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized(_("Malformed Basic credentials.")) from None
        account, sep, token = decoded.partition(":")
        if sep and token:
            return account, token
    raise Unauthorized(_("Use HTTP Basic (account_id:token) or a Bearer token."))


def authenticate(header: str | None) -> ApiToken:
    """The live token named by an Authorization header, or 401."""
    account_ref, plain = parse_authorization(header)
    digest = hash_token(plain)
    row = ApiToken.get_or_none(ApiToken.token_hash == digest)
    # compare_digest keeps the final check constant-time even if the lookup is not.
    if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked_at:
        raise Unauthorized(_("The token is not valid."))
    if account_ref is not None and account_ref != str(row.account_id):
        raise Unauthorized(_("The token is not valid."))
    if row.last_used_at is None or (utcnow() - row.last_used_at).total_seconds() > 60:
        ApiToken.update(last_used_at=utcnow()).where(ApiToken.id == row.id).execute()
    return row


def require_scope(token: ApiToken, scope: str, *alternatives: str) -> None:
    """403 unless the token carries ``scope`` or an alternative (``admin`` carries them all)."""
    scopes = set(token.scopes or [])
    if "admin" not in scopes and not scopes & {scope, *alternatives}:
        raise Forbidden(_("This token lacks the '%(scope)s' scope.") % {"scope": scope})


# ---- passwords ---------------------------------------------------------------------------

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """scrypt with a random salt, stored as ``scrypt$salt$hash``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(stored: str, password: str) -> bool:
    """Constant-time check of ``password`` against ``hash_password``'s output."""
    try:
        _algorithm, salt, digest = stored.split("$")
        fresh = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32, **_SCRYPT)
    except ValueError:
        return False
    return hmac.compare_digest(fresh.hex(), digest)


def create_user(account_id: int, email: str, password: str) -> User:
    """An admin-UI login for an account."""
    if len(password) < 8:
        raise ValidationFailed(_("The password needs at least 8 characters."))
    Account.get_by_id(account_id)
    return User.create(account=account_id, email=email.strip().lower(),
                       password_hash=hash_password(password))
