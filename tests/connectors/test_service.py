"""The hot path's cache of hook configs: bounded, whatever ids are probed."""

from __future__ import annotations

from connectors import service


def test_probing_unknown_hook_ids_does_not_grow_the_cache(client, tenant, hooks, monkeypatch):
    """Every unknown id was remembered forever: a memory leak for anyone probing URLs."""
    monkeypatch.setattr(service, "MAX_CACHED_ABSENT", 8)
    hook, secret = hooks.create()
    assert hooks.post(hook, secret, {"email": "ann@example.com"}).status_code == 202
    for hook_id in range(10_000, 10_040):
        r = client.post(f"/hooks/{hook_id}", json={"email": "x@example.com"})
        assert r.status_code == 404
        known, absent = service.cached_count()
        assert absent <= 8 and known >= 1
    # the probes pushed out no real hook: it is still served from the cache
    assert service.cached_config(hook["id"]) is not None
    assert hooks.post(hook, secret, {"email": "bob@example.com"}).status_code == 202


def test_known_hooks_are_bounded_too(store, tenant, monkeypatch):
    monkeypatch.setattr(service, "MAX_CACHED_HOOKS", 3)
    created = [service.create_hook(tenant.id, {"name": f"H{n}", "source": "Website",
                                               "mapping": {"email": "email"}})[0]
               for n in range(6)]
    for hook in created:
        service.load_config(hook.id)
    assert service.cached_count()[0] <= 3
    # the newest stay; an evicted one simply loads again
    assert service.cached_config(created[-1].id) is not None
    assert service.cached_config(created[0].id) is None
    assert service.load_config(created[0].id).exists
