"""Retention: the sweep purges what is older than each INLET_RETENTION_* period and nothing
else; time is travelled by INLET_CLOCK_OFFSET_DAYS, not by sleeping."""

from __future__ import annotations

from pathlib import Path

from connectors.models import Delivery
from gateway import runtime
from gateway.imports.models import Import, ImportRowError
from gateway.models import OutgoingMail
from gateway.settings import Settings
from privacy import retention
from tests.gateway.imports.conftest import csv_bytes

HEADER = ["email", "first_name", "language", "source"]


def _travel(env: dict, days: int) -> dict:
    """Run the sweep as if ``days`` had passed; returns what each purge did."""
    runtime.configure(Settings.from_env({**env, "INLET_CLOCK_OFFSET_DAYS": str(days),
                                         "INLET_RETENTION_UPLOADS": "40"}))
    return retention.sweep()


def _state(settings) -> dict:
    files = sorted(p.name for p in (Path(settings.data_dir) / "imports").rglob("*.csv"))
    return {"files": len(files), "imports": Import.select().count(),
            "errors": ImportRowError.select().count(),
            "payloads": [d.payload for d in Delivery.select()],
            "bodies": [m.text != "" for m in OutgoingMail.select().where(
                OutgoingMail.status == "sent")]}


def test_each_period_purges_its_own_and_nothing_else(client, tenant, importer, hooks,
                                                     run_jobs, env, settings):
    imp = importer.run(csv_bytes([HEADER, ["ann@example.com", "Ann", "nl", "Website"],
                                  ["not-an-address", "Bob", "nl", "Website"]]),
                       welcome="true")
    assert imp["step"] == "done" and imp["counts"]["failed"] == 1
    abandoned = importer.upload(csv_bytes([HEADER, ["cy@example.com", "Cy", "nl", "Website"]]))
    assert abandoned.status_code == 202
    hook, secret = hooks.create(auth="bearer")
    client.post(hook["url"].removeprefix("http://testserver"), json={"email": "di@example.com"},
                headers={"Authorization": f"Bearer {secret}"})
    for _ in range(3):
        run_jobs()
    before = _state(settings)
    assert before["files"] == 2 and before["imports"] == 2 and before["errors"] == 1
    assert before["payloads"] == [{"email": "di@example.com"}] and all(before["bodies"])
    assert before["bodies"]

    assert _travel(env, 29) and _state(settings) == before  # nothing is due yet

    _travel(env, 31)  # errors, payloads and mail bodies (30 days) go; uploads (40) stay
    after = _state(settings)
    assert (after["files"], after["imports"], after["errors"]) == (2, 2, 0)
    assert after["payloads"] == [{"purged": "kept INLET_RETENTION_DELIVERIES days"}]
    assert not any(after["bodies"])
    assert Delivery.get().result["counts"]["created"] == 1  # counts stay
    assert Import.get_by_id(imp["id"]).counts["created"] == 1

    _travel(env, 41)  # the finished import's file goes, the abandoned import goes whole
    assert (_state(settings)["files"], Import.select().count()) == (0, 1)
    r = client.get(f"/api/imports/{imp['id']}", headers=tenant.headers)
    assert r.status_code == 200 and r.json()["counts"]["created"] == 1
    gone = client.get(f"/api/imports/{imp['id']}/errors.csv", headers=tenant.headers)
    assert gone.status_code == 404 and "retention" in gone.json()["error"]["message"]
