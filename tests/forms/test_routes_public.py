"""The public form: page headers, languages, privacy, bot traps, rate limits, CSRF, XSS."""

import re
import time

import pytest

from forms import origins, public, tokens
from forms.models import RefusedOrigin
from gateway.db import db
from tests.forms.conftest import HOST_ORIGIN, aged_ts, contacts, page_text


def test_hosted_page_may_be_framed_only_by_allowed_origins(client, form):
    r = client.get(f"/f/{form['slug']}")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {HOST_ORIGIN};" in csp
    assert "'unsafe-inline'" not in csp
    assert r.headers["x-frame-options"] == "SAMEORIGIN"
    assert r.headers["cache-control"] == "no-store"
    assert 'name="_ts"' in r.text and 'name="website"' in r.text


def test_other_pages_keep_the_default_deny(client, form):
    r = client.get("/confirm/garbage")
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_language_from_choice_or_browser(client, form):
    assert "Inscrivez-vous" in client.get(f"/f/{form['slug']}",
                                          headers={"Accept-Language": "fr-BE,fr;q=0.9"}).text
    assert "Schrijf je in" in client.get(f"/f/{form['slug']}?lang=nl",
                                         headers={"Accept-Language": "fr"}).text


def test_same_answer_for_new_known_confirmed_and_blacklisted(client, tenant, form, visitor,
                                                             run_jobs, mailbox):
    for email, status in (("known@example.com", "unconfirmed"),
                          ("confirmed@example.com", "confirmed"),
                          ("black@example.com", "confirmed")):
        r = client.post("/api/contacts", headers=tenant.headers, json={
            "email": email, "language": "nl", "source": "Fair", "first_name": "Old",
            "status": status, "interests": ["Sports"]})
        assert r.status_code == 201
    black = r.json()
    client.post(f"/api/contacts/{black['id']}/blacklist", headers=tenant.headers)
    before_black = client.get(f"/api/contacts/{black['id']}", headers=tenant.headers).json()
    answers = set()
    for email in ("new@example.com", "known@example.com", "confirmed@example.com",
                  "black@example.com"):
        for as_json in (False, True):
            r = visitor(form, {"email": email, "first_name": "", "interests": ["Music"]},
                        json=as_json)
            # Only the per-response CSP nonce may differ.
            answers.add((r.status_code, page_text(r), as_json))
    assert len(answers) == 2  # one HTML answer, one JSON answer, whatever the address
    run_jobs()
    by_email = {c["email"]: c for c in contacts(client, tenant)}
    assert by_email["new@example.com"]["status"] == "unconfirmed"
    confirmed = by_email["confirmed@example.com"]
    assert confirmed["status"] == "confirmed"  # never back to unconfirmed
    assert confirmed["first_name"] == "Old" and confirmed["source"] == "Fair"
    assert sorted(confirmed["interests"]) == ["Music", "Sports"]  # merged, not reset
    assert client.get(f"/api/contacts/{black['id']}", headers=tenant.headers).json() == \
        before_black
    assert mailbox.to("black@example.com") == []
    assert mailbox.to("confirmed@example.com") == []
    assert len(mailbox.to("new@example.com")) == 2
    assert len(mailbox.to("known@example.com")) == 2


def test_honeypot_gets_a_success_answer_and_changes_nothing(client, tenant, form, visitor,
                                                            run_jobs, mailbox):
    human = visitor(form, {"email": "human@example.com"})
    bot = visitor(form, {"email": "bot@example.com", "website": "http://spam.example"})
    assert (bot.status_code, page_text(bot)) == (human.status_code, page_text(human))
    run_jobs()
    assert [c["email"] for c in contacts(client, tenant)] == ["human@example.com"]
    assert mailbox.to("bot@example.com") == []


def test_too_fast_or_unsigned_submit_is_shown_again_not_accepted(client, tenant, form,
                                                                 settings, visitor, run_jobs):
    fresh = tokens.render_token(settings.secret_key, form["id"], now=time.time())
    r = visitor(form, {"email": "quick@example.com", "first_name": "Q", "_ts": fresh})
    assert r.status_code == 200
    assert "press the button once more" in r.text
    notice = re.search(r'class="inlet-notice"[^>]*>([^<]*)<', r.text).group(1)
    assert "check" not in notice.lower()  # a person who was quick did nothing wrong
    assert 'value="quick@example.com"' in r.text  # pre-filled, with a new render time
    r = visitor(form, {"email": "quick@example.com", "_ts": ""})  # our page, stamp removed
    assert "press the button once more" in r.text
    forged = tokens.render_token("another-secret-0123456789", form["id"], now=time.time() - 60)
    r = visitor(form, {"email": "quick@example.com", "_ts": forged}, json=True)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "too_fast"
    new_ts = r.json()["error"]["details"][0]["ts"]
    assert tokens.fill_seconds(settings.secret_key, new_ts, form["id"]) < 5
    run_jobs()
    assert contacts(client, tenant) == []


def test_plain_html_snippet_is_accepted_on_the_first_post(client, tenant, form, run_jobs,
                                                         mailbox):
    """The pasted snippet carries no render time: its marker skips the minimum fill time;
    a post without the marker, or with a stamp that is not old enough, is still asked again."""
    url = f"/f/{form['slug']}"
    r = client.post(url, data={"email": "snippet@example.com", "_embed": "html",
                               "_lang": "en"}, headers={"Origin": "https://shop.example"})
    assert (r.status_code, "check your inbox" in r.text) == (200, True)
    r = client.post(url, data={"email": "bare@example.com", "_lang": "en"})  # no marker
    assert "press the button once more" in r.text
    r = client.post(url, data={"email": "stamped@example.com", "_embed": "html", "_ts": "x",
                               "_lang": "en"})
    assert "press the button once more" in r.text
    r = client.post(url, data={"email": "bot@example.com", "_embed": "html",
                               "website": "http://spam.example"})
    assert r.status_code == 200  # the honeypot answers like a success
    run_jobs()
    assert [c["email"] for c in contacts(client, tenant)] == ["snippet@example.com"]
    assert len(mailbox.to("snippet@example.com")) == 1


def test_invalid_email_gets_a_clear_error(client, form, visitor):
    r = visitor(form, {"email": "not-an-address", "first_name": "Ann"})
    assert r.status_code == 422
    assert 'aria-invalid="true"' in r.text and 'value="Ann"' in r.text
    r = visitor(form, {"email": "not-an-address"}, json=True)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "email"


def test_rate_limit_per_address(client, form, visitor):
    for _ in range(5):
        assert visitor(form, {"email": "same@example.com"}, json=True).status_code == 202
    r = visitor(form, {"email": "same@example.com"}, json=True)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 3600
    assert visitor(form, {"email": "other@example.com"}, json=True).status_code == 202


def test_rate_limit_per_ip(client, form, visitor):
    for i in range(30):
        assert visitor(form, {"email": f"p{i}@example.com"}, json=True).status_code == 202
    r = visitor(form, {"email": "p31@example.com"})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert "Too many attempts" in r.text


def test_cross_site_posts_only_from_allowed_origins(client, tenant, form, visitor, run_jobs):
    r = visitor(form, {"email": "csrf@example.com"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers
    r = visitor(form, {"email": "csrf@example.com"},
                headers={"Referer": "https://evil.example/page"})
    assert r.status_code == 403
    r = visitor(form, {"email": "csrf@example.com"}, headers={"Origin": "null"})
    assert r.status_code == 403
    r = visitor(form, {"email": "ok@example.com"}, json=True, headers={"Origin": HOST_ORIGIN})
    assert r.status_code == 202
    assert r.headers["access-control-allow-origin"] == HOST_ORIGIN
    assert r.json() == {"status": "accepted", "redirect": None,
                        "message": "Thank you! Please check your inbox to confirm your "
                                   "subscription."}
    r = visitor(form, {"email": "self@example.com"}, headers={"Origin": "http://testserver"})
    assert r.status_code == 200
    run_jobs()
    assert sorted(c["email"] for c in contacts(client, tenant)) == ["ok@example.com",
                                                                    "self@example.com"]


def test_a_refused_site_is_told_why_and_noted_for_the_form(client, tenant, form, visitor):
    """Plain-HTML post, iframe and script from a site not in the allowed origins: a clear
    message each time, and the site is listed (once) for the form's admin page."""
    evil = "https://evil.example"
    origins.clear_throttle()  # an earlier test's database may have noted it in this process
    r = visitor(form, {"email": "x@example.com"}, headers={"Origin": evil})
    assert r.status_code == 403
    assert f"This site ({evil}) is not allowed to use this form" in r.text
    r = client.get(f"/f/{form['slug']}?embed=iframe",
                   headers={"Referer": f"{evil}/shop", "Sec-Fetch-Dest": "iframe"})
    assert r.status_code == 403 and "not allowed to use this form" in r.text
    assert 'name="email"' not in r.text  # no form to click-jack
    assert f"frame-ancestors {evil};" in r.headers["content-security-policy"]
    # A hosted page linked from anywhere (not framed) is not refused.
    assert client.get(f"/f/{form['slug']}", headers={"Referer": f"{evil}/"}).status_code == 200
    js = client.get(f"/f/{form['slug']}/embed.js", headers={"Referer": f"{evil}/"}).text
    assert HOST_ORIGIN in js and "not allowed to use this form" in js
    with db.connection_context():
        [row] = RefusedOrigin.select().where(RefusedOrigin.form == form["id"])
        assert row.origin == evil
        origins.allow_origin(tenant.id, form["id"], evil)
        assert RefusedOrigin.select().count() == 0
    public.clear_cache()
    r = visitor(form, {"email": "x@example.com"}, headers={"Origin": evil}, json=True)
    assert r.status_code == 202


def test_refused_sites_are_bounded_per_form(form):
    with db.connection_context():
        for i in range(origins.KEEP + 5):
            origins.record_refused(form["id"], f"https://site{i}.example")
        kept = RefusedOrigin.select().where(RefusedOrigin.form == form["id"]).count()
        assert kept == origins.KEEP
        origins.record_refused(form["id"], f"https://site{origins.KEEP + 4}.example")
        row = RefusedOrigin.get(RefusedOrigin.origin == f"https://site{origins.KEEP + 4}.example")
        assert row.attempts == 2


def test_cors_preflight(client, form):
    r = client.options(f"/f/{form['slug']}", headers={
        "Origin": HOST_ORIGIN, "Access-Control-Request-Method": "POST"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == HOST_ORIGIN
    r = client.options(f"/f/{form['slug']}", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_redirects_only_to_exact_allow_listed_urls(client, make_form, visitor):
    form = make_form(redirect_urls=["https://shop.example/thanks"])
    r = visitor(form, {"email": "a@example.com", "_redirect": "https://shop.example/thanks"})
    assert r.status_code == 303
    assert r.headers["location"] == "https://shop.example/thanks"
    for wanted in ("https://evil.example/", "https://shop.example/thanks?x=1",
                   "//evil.example", "https://shop.example/thanks/"):
        r = visitor(form, {"email": "b@example.com", "_redirect": wanted})
        assert r.status_code == 200, wanted
        assert "location" not in r.headers


def test_xss_payloads_render_inert(client, tenant, make_form, visitor, run_jobs, mailbox):
    payload = '<script>alert("x")</script>'
    form = make_form(texts={"en": {"title": payload, "consent": payload}},
                     fields=["first_name"])
    page = client.get(f"/f/{form['slug']}?lang=en").text
    assert payload not in page and "&lt;script&gt;" in page
    r = visitor(form, {"email": "bad", "first_name": payload})
    assert payload not in r.text
    js = client.get(f"/f/{form['slug']}/embed.js?lang=en").text
    assert "</script>" not in js.split("})(", 1)[1]
    r = visitor(form, {"email": "x@example.com", "first_name": payload})
    run_jobs()
    [mail] = mailbox.to("x@example.com")
    html = mail.get_body(("html",)).get_content()
    assert payload not in html and "&lt;script&gt;" in html
    assert payload in mail.get_body(("plain",)).get_content()  # text is not HTML


@pytest.mark.parametrize("content_type,body,status", [
    ("application/json", '{"email": "a@example.com"}', 415),
    ("application/x-www-form-urlencoded", "email=" + "a" * 40000, 413),
])
def test_bad_bodies(client, form, content_type, body, status):
    r = client.post(f"/f/{form['slug']}", content=body,
                    headers={"content-type": content_type, "accept": "application/json"})
    assert r.status_code == status
    assert "error" in r.json()


def test_unknown_form_is_404(client, store):
    assert client.get("/f/no-such-form").status_code == 404
    assert client.post("/f/no-such-form", data={"email": "a@example.com"}).status_code == 404


def test_plain_html_submit_with_multipart(client, tenant, form, settings, run_jobs):
    r = client.post(f"/f/{form['slug']}", files={"x": (None, "")}, data={
        "email": "multi@example.com", "_ts": aged_ts(settings, form["id"])})
    assert r.status_code == 200
    run_jobs()
    assert [c["email"] for c in contacts(client, tenant)] == ["multi@example.com"]


class TestRedisDown:
    @pytest.fixture
    def env(self, env):
        env["INLET_REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
        return env

    def test_submit_answers_503_and_accepts_nothing(self, client, form, visitor):
        r = visitor(form, {"email": "later@example.com"}, json=True)
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "unavailable"
        assert int(r.headers["retry-after"]) >= 1
        r = visitor(form, {"email": "later@example.com"})
        assert r.status_code == 503 and "<html" in r.text


def test_custom_fields_are_shown_validated_and_stored(client, tenant, make_form, visitor,
                                                      run_jobs):
    for field in ({"name": "company", "type": "text"}, {"name": "member", "type": "boolean"},
                  {"name": "size", "type": "choice", "choices": ["S", "M", "L"]},
                  {"name": "days", "type": "multiple_choice", "choices": ["Mon", "Tue"]},
                  {"name": "born", "type": "date"}):
        assert client.post("/api/custom-fields", json=field,
                           headers=tenant.headers).status_code == 201
    form = make_form(fields=["company", "member", "size", "days", "born"],
                     texts={"en": {"label_company": "Your company"}})
    page = client.get(f"/f/{form['slug']}?lang=en").text
    assert '<label for="inlet-cf_company">Your company</label>' in page
    assert 'type="checkbox" name="cf_member"' in page and 'type="date" name="cf_born"' in page
    assert '<option value="M">M</option>' in page and 'name="cf_days"' in page
    r = visitor(form, {"email": "cf@example.com", "cf_size": "XL"}, json=True)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "cf_size"
    r = visitor(form, {"email": "cf@example.com", "cf_company": "Acme", "cf_member": "yes",
                       "cf_size": "M", "cf_days": ["Mon", "Tue"], "cf_born": "1990-02-03"})
    assert r.status_code == 200
    run_jobs()
    [contact] = contacts(client, tenant)
    assert contact["custom_fields"] == {"company": "Acme", "member": True, "size": "M",
                                        "days": ["Mon", "Tue"], "born": "1990-02-03"}


def test_iframe_leaves_the_frame_only_to_redirect(client, make_form):
    plain = make_form()
    assert 'target="_top"' not in client.get(f"/f/{plain['slug']}?embed=iframe").text
    redirecting = make_form(after_submit_url="https://shop.example/thanks")
    page = client.get(f"/f/{redirecting['slug']}?embed=iframe")
    assert 'target="_top"' in page.text
    assert "form-action 'self' https://shop.example;" in page.headers["content-security-policy"]
