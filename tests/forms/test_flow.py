"""Double opt-in end to end: submit, queue, real SMTP, follow the link, confirmed."""

from urllib.parse import urlsplit

from tests.forms.conftest import confirm_link, contacts


def test_submit_mail_confirm_welcome(client, tenant, make_form, visitor, run_jobs, mailbox):
    form = make_form(welcome=True)
    r = visitor(form, {"email": "Ann@Example.com", "first_name": "Ann",
                       "preferences": ["Weekly"], "interests": ["Music", "Sports"]})
    assert r.status_code == 200, r.text
    assert "check your inbox" in r.text
    assert contacts(client, tenant) == []  # nothing written before the job runs
    run_jobs()
    [contact] = contacts(client, tenant)
    assert contact["email"] == "ann@example.com"
    assert contact["status"] == "unconfirmed"
    assert contact["source"] == "Website" and contact["language"] == "en"
    assert contact["preferences"] == ["Weekly"]
    assert sorted(contact["interests"]) == ["Music", "Sports"]
    [mail] = mailbox.to("ann@example.com")
    assert mail.get_body(("html",)) is not None
    link = confirm_link(mail)
    r = client.get(urlsplit(link).path, follow_redirects=False)
    assert r.status_code == 200
    assert "confirmed" in r.text
    run_jobs()
    [confirmed] = contacts(client, tenant, status="confirmed")
    assert confirmed["id"] == contact["id"]
    r = client.get(urlsplit(link).path)
    assert "already confirmed" in r.text
    [welcome] = [m for m in mailbox.to("ann@example.com") if m["Subject"] == "Welcome!"]
    assert welcome["List-Unsubscribe"].strip().startswith("<http://testserver/unsubscribe/")


def test_a_name_with_line_breaks_stays_on_its_line_in_the_mail(client, tenant, make_form,
                                                                visitor, run_jobs, mailbox):
    form = make_form()
    r = visitor(form, {"email": "eve@example.com",
                       "first_name": "Eve\r\nBcc: victim@example.com\r\n\r\nClick here"})
    assert r.status_code == 200, r.text
    run_jobs()
    [mail] = mailbox.to("eve@example.com")
    assert mail["Bcc"] is None and not mailbox.to("victim@example.com")
    text = mail.get_body(("plain",)).get_content()
    assert "Eve Bcc: victim@example.com Click here" in text
    assert not any(line.startswith(("Bcc:", "Click here")) for line in text.splitlines())
    [contact] = contacts(client, tenant)
    assert contact["first_name"] == "Eve Bcc: victim@example.com Click here"
