from gateway.app import create_app
from gateway.settings import Settings


def test_healthz_reports_database_and_redis(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "queue": "ok"}}


def test_healthz_is_503_when_redis_is_down(env, store):
    from starlette.testclient import TestClient
    settings = Settings.from_env(env | {"INLET_REDIS_URL": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(settings, run_jobs=False)) as c:
        r = c.get("/healthz")
    assert r.status_code == 503
    assert r.json()["checks"]["queue"] == "down"


def test_security_headers(client):
    r = client.get("/healthz")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_unknown_path_and_method_in_the_error_shape(client, tenant):
    r = client.get("/api/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.put("/api/contacts", headers=tenant.headers)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
