"""The four embeds: snippets, the script embed's source, CORS and its safety."""

import json

from forms import embed, public
from tests.forms.conftest import HOST_ORIGIN


def test_embed_js_carries_fields_texts_and_a_fresh_render_time(client, form):
    r = client.get(f"/f/{form['slug']}/embed.js", headers={"Accept-Language": "nl",
                                                           "Origin": HOST_ORIGIN})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["access-control-allow-origin"] == HOST_ORIGIN
    config = json.loads(r.text.rsplit("})(", 1)[1].rstrip().removesuffix(");"))
    assert config["language"] == "nl" and config["texts"]["submit"] == "Inschrijven"
    assert [f["name"] for f in config["fields"]] == ["email", "first_name", "name",
                                                     "preferences", "interests"]
    assert config["action"] == f"http://testserver/f/{form['slug']}"
    assert "http" not in r.text.split("})(", 1)[0].replace("http://www.w3", "")  # no requests
    r = client.get(f"/f/{form['slug']}/embed.js", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_script_json_cannot_close_the_script():
    text = embed.script_json({"a": "</script><script>alert(1)</script>\u2028&"})
    assert "<" not in text and ">" not in text and "\u2028" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script><script>alert(1)</script>\u2028&"}


def test_html_snippet_posts_to_the_gateway_without_javascript(client, tenant, make_form):
    made = make_form(fields=["first_name", "language"])
    with_db = public.public_form(made["slug"])
    snippet = embed.snippets(with_db, "https://forms.example")["html"]
    assert snippet.startswith('<form method="post" action="https://forms.example/f/')
    assert 'name="email"' in snippet and 'name="language"' in snippet
    assert 'name="website"' in snippet and "<script" not in snippet
