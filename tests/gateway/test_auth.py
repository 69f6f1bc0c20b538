"""Tokens: random, hashed at rest, scoped, revocable; passwords hashed."""

from gateway.auth import check_password, create_token, hash_password, revoke_token
from gateway.models import ApiToken


def test_tokens_are_stored_only_as_a_hash(tenant):
    rows = list(ApiToken.select().where(ApiToken.account == tenant.id))
    assert len(rows) == 1
    assert tenant.token not in (rows[0].token_hash, rows[0].prefix)
    assert len(rows[0].token_hash) == 64


def test_revoked_token_is_refused(client, tenant):
    assert client.get("/api/contacts", headers=tenant.headers).status_code == 200
    assert revoke_token(tenant.id, tenant.token_id)
    r = client.get("/api/contacts", headers=tenant.headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_revoke_only_own_tokens(tenant, other_tenant):
    assert not revoke_token(other_tenant.id, tenant.token_id)


def test_two_tokens_are_different(tenant):
    _, a = create_token(tenant.id)
    _, b = create_token(tenant.id)
    assert a != b and a.startswith("inl_") and len(a) > 40


def test_passwords():
    stored = hash_password("correct horse")
    assert "correct horse" not in stored
    assert check_password(stored, "correct horse")
    assert not check_password(stored, "wrong horse")
    assert not check_password("garbage", "x")
