"""Settings → Your language: a choice of English, Nederlands or Français, nothing else."""

import pytest

from gateway.models import User
from tests.gateway.admin.conftest import csrf_of


def choose(client, value: str):
    token = csrf_of(client.get("/admin/settings").text)
    return client.post("/admin/settings/language", data={"csrf_token": token, "language": value},
                       follow_redirects=False)


def test_a_choice_is_kept_and_emptying_it_follows_the_browser_again(admin_client, admin):
    assert choose(admin_client, "fr").status_code == 303
    assert User.get(User.email == admin.email).language == "fr"
    page = admin_client.get("/admin/settings", headers={"accept-language": "nl"}).text
    assert '<html lang="fr"' in page and "Votre langue" in page  # the choice beats the browser
    assert choose(admin_client, "").status_code == 303
    assert User.get(User.email == admin.email).language is None
    page = admin_client.get("/admin/settings", headers={"accept-language": "nl"}).text
    assert '<html lang="nl"' in page and "Jouw taal" in page


@pytest.mark.parametrize("hostile", ["de", "FR ", "x" * 10_000, "nan", "1e999", "fr\x00",
                                     "<script>", "../fr"])
def test_anything_else_is_refused_and_changes_nothing(admin_client, admin, hostile):
    assert choose(admin_client, "nl").status_code == 303
    r = choose(admin_client, hostile)
    assert r.status_code == 400, r.text
    assert "Kies English, Nederlands of Français." in r.text  # in the chosen language
    assert User.get(User.email == admin.email).language == "nl"
    assert admin_client.get("/admin/settings").status_code == 200
    assert admin_client.get("/admin/contacts").status_code == 200
