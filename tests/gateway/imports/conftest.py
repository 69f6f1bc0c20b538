"""Helpers for import tests: build CSV bytes and drive an import through the API."""

from __future__ import annotations

import pytest


def csv_bytes(rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8",
              bom: bool = False) -> bytes:
    """Rows as a CSV file (quoted where needed)."""
    import csv
    import io
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


class Importer:
    """Drives an import through the HTTP API as a client would."""

    def __init__(self, client, tenant, run_jobs):
        self.client, self.tenant, self.run_jobs = client, tenant, run_jobs

    def upload(self, data: bytes, name: str = "contacts.csv", **fields):
        return self.client.post("/api/imports", headers=self.tenant.headers,
                                files={"file": (name, data, "text/csv")}, data=fields)

    def get(self, import_id: int) -> dict:
        r = self.client.get(f"/api/imports/{import_id}", headers=self.tenant.headers)
        assert r.status_code == 200, r.text
        return r.json()

    def put(self, import_id: int, what: str, body: dict):
        return self.client.put(f"/api/imports/{import_id}/{what}", json=body,
                               headers=self.tenant.headers)

    def validate(self, data: bytes, mapping: dict | None = None, **fields) -> dict:
        """Upload, (map), consent and run the validation job; returns the import."""
        r = self.upload(data, **fields)
        assert r.status_code == 202, r.text
        import_id = r.json()["id"]
        if mapping is not None:
            assert self.put(import_id, "mapping", {"mapping": mapping}).status_code == 200
        r = self.put(import_id, "consent", {"obtained_rightfully": True})
        assert r.status_code == 200, r.text
        assert r.json()["step"] == "validating"
        self.run_jobs()
        return self.get(import_id)

    def finalise(self, import_id: int, fallbacks: dict | None = None) -> dict:
        if fallbacks:
            r = self.put(import_id, "fallbacks", fallbacks)
            assert r.status_code == 200, r.text
        r = self.client.post(f"/api/imports/{import_id}/finalise", headers=self.tenant.headers)
        assert r.status_code == 202, r.text
        assert r.json()["step"] == "finalising"
        self.run_jobs()
        return self.get(import_id)

    def run(self, data: bytes, mapping: dict | None = None, fallbacks: dict | None = None,
            **fields) -> dict:
        """The whole import; returns the finished import."""
        imp = self.validate(data, mapping, **fields)
        return self.finalise(imp["id"], fallbacks)

    def errors_csv(self, import_id: int) -> str:
        r = self.client.get(f"/api/imports/{import_id}/errors.csv", headers=self.tenant.headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        return r.content.decode("utf-8-sig")

    def contact(self, email: str) -> dict:
        r = self.client.get("/api/contacts", params={"email": email},
                            headers=self.tenant.headers)
        items = r.json()["items"]
        return items[0] if items else None


@pytest.fixture
def importer(client, tenant, run_jobs) -> Importer:
    return Importer(client, tenant, run_jobs)
