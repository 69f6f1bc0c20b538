"""Secrets at rest and their comparison: tokens and hook secrets never stored in the clear,
every secret compared in constant time (``hmac.compare_digest``), passwords salted scrypt."""

import ast
import hashlib
import inspect

import pytest

from gateway.db import db
from gateway.schema import all_models


def every_stored_text() -> str:
    """Every value of every row of every table, as one string to search."""
    parts = []
    for model in all_models():
        for row in model.select().tuples():
            parts.extend(str(v) for v in row)
    return "\n".join(parts)


def test_api_tokens_are_stored_only_as_a_hash(client, tenant):
    from gateway.models import ApiToken
    r = client.get("/api/contacts", headers=tenant.headers)
    assert r.status_code == 200
    row = ApiToken.get_by_id(tenant.token_id)
    assert row.token_hash == hashlib.sha256(tenant.token.encode()).hexdigest()
    assert tenant.token not in every_stored_text()
    assert tenant.token[12:] not in every_stored_text()  # not even most of it


def test_a_token_shown_in_the_admin_ui_is_not_stored(client, tenant):
    from gateway.auth import create_user
    from tests.gateway.admin.conftest import csrf_of, login_client
    create_user(tenant.id, "sec@example.com", "long enough password")
    assert login_client(client, "sec@example.com", "long enough password").status_code == 303
    page = client.get("/admin/api")
    r = client.post("/admin/api", data={"name": "CI", "scopes": "contacts:read",
                                        "csrf_token": csrf_of(page.text)})
    assert r.status_code == 200
    import re
    shown = re.findall(r"inl_[A-Za-z0-9_-]{20,}", r.text)
    assert shown, "the new token is shown once"
    assert shown[0] not in every_stored_text()
    assert client.get("/api/contacts", headers={"Authorization": f"Bearer {shown[0]}"}
                      ).status_code == 200


def test_hook_secrets_are_not_stored(client, tenant):
    r = client.post("/api/hooks", headers=tenant.headers,
                    json={"kind": "generic", "name": "Zap", "auth": "bearer",
                          "source": "Website", "language": "nl",
                          "mapping": {"email": "email"}})
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    assert secret not in every_stored_text()
    assert secret.removeprefix("whsec_") not in every_stored_text()
    assert "secret" not in client.get(f"/api/hooks/{r.json()['id']}",
                                      headers=tenant.headers).json()


def test_passwords_are_salted_scrypt(store, tenant):
    from gateway.auth import check_password, create_user
    a = create_user(tenant.id, "a@example.com", "same password!")
    b = create_user(tenant.id, "b@example.com", "same password!")
    assert a.password_hash.startswith("scrypt$") and a.password_hash != b.password_hash
    assert "same password!" not in every_stored_text()
    assert check_password(a.password_hash, "same password!")
    assert not check_password(a.password_hash, "same password?")


def _calls_compare_digest(func) -> bool:
    tree = ast.parse(inspect.getsource(func).lstrip() if not inspect.ismodule(func)
                     else inspect.getsource(func))
    return any(isinstance(n, ast.Attribute) and n.attr == "compare_digest"
               for n in ast.walk(tree))


def _secret_equality(func) -> list[str]:
    """``==``/``!=`` comparisons that involve a name looking like a secret."""
    tree = ast.parse(inspect.getsource(func).lstrip())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(isinstance(op, ast.Eq | ast.NotEq)
                                                 for op in node.ops):
            text = ast.unparse(node)
            if text[:1].isupper():
                continue  # a query expression (Model.field == value) runs in the database
            if any(w in text.lower() for w in ("token", "secret", "digest", "signature",
                                               "password", "hash", "stamp")):
                bad.append(text)
    return bad


def _secret_checks():
    from connectors import signatures
    from gateway import auth
    from gateway.admin import csrf, session
    return [auth.authenticate, auth.check_password, signatures.verify,
            signatures.verify_bearer, csrf.verify, session.session_user]


@pytest.mark.parametrize("func", _secret_checks(), ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_every_secret_is_compared_in_constant_time(func):
    assert _calls_compare_digest(func), f"{func.__qualname__} does not use compare_digest"
    assert _secret_equality(func) == []


def test_token_lookup_is_by_hash_so_timing_reveals_nothing(store, tenant):
    """The database is searched by the token's SHA-256: a guess close to a real token is as
    far from its hash as any other guess, so response times can't guide a brute force."""
    from gateway.auth import authenticate
    from gateway.errors import Unauthorized
    with db.connection_context():
        near = tenant.token[:-1] + ("A" if tenant.token[-1] != "A" else "B")
        with pytest.raises(Unauthorized):
            authenticate(f"Bearer {near}")
        assert authenticate(f"Bearer {tenant.token}").id == tenant.token_id
