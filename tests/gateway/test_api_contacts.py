def test_add_list_and_conflict(client, tenant):
    body = {"email": "Ann@Example.com", "language": "nl", "source": "Website",
            "first_name": "Ann"}
    r = client.post("/api/contacts", json=body, headers=tenant.basic)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["email"] == "ann@example.com"
    assert created["status"] == "confirmed"
    r = client.get("/api/contacts", headers=tenant.headers)
    assert r.status_code == 200
    assert r.json()["total"] == 1
    assert r.json()["items"][0]["id"] == created["id"]
    r = client.post("/api/contacts", json=body, headers=tenant.headers)
    assert r.status_code == 409
    assert r.json()["error"]["details"][0]["id"] == created["id"]
