"""Every admin page in Dutch and French, on a phone and a laptop, with long data: no English
left on the page, and the longer French and Dutch words still fit (issue #21)."""

import re

import pytest

from gateway.admin.user_language import set_language
from gateway.models import User
from tests.gateway.admin.conftest import log_in, snap
from tests.gateway.admin.test_phone import LAPTOP, PHONE, WIDE_SCRIPT, long_data, page_urls

# What people read: text nodes, and the words a control shows or says (placeholders, labels).
# Code, commands, JSON, what the user typed and texts marked as another language (a form's
# visitor texts) are not ours to translate.
TEXT_SCRIPT = """
() => {
  const page = document.documentElement.lang;
  const skip = `code, pre, script, style, textarea, kbd, samp, [translate=no], time,
                body [lang]:not([lang=${page}])`;
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, parent = node.parentElement;
    if (!parent || parent.closest(skip) || !node.textContent.trim()) continue;
    out.push(node.textContent.trim());
  }
  const labelled = '[placeholder], [aria-label], [title], input[type=submit]';
  for (const el of document.querySelectorAll(labelled)) {
    if (el.closest(skip)) continue;
    for (const name of ['placeholder', 'aria-label', 'title', 'value']) {
      if (name === 'value' && el.type !== 'submit') continue;
      if (el.getAttribute(name)) out.push(el.getAttribute(name));
    }
  }
  out.push(document.title);
  return out;
}
"""
# Words that are English and neither Dutch nor French: one on a page means a text was missed.
ENGLISH = re.compile(
    r"\b(the|The|your|Your|you|You|with|this|This|from|will|have|has|which|when|please|"
    r"Please|and|are|not|to|for|Save|Delete|Remove|Add|Search|Settings|Cancel|Back|Next|"
    r"Log|new|New|yes|Yes|Forms|Events|Connectors|Imports|Today|Just now|rows?|Send|"
    r"Upload|Choose|Create|Edit|Replay)\b")
# The language picker names each language in its own tongue.
OWN_NAMES = {"English"}


def english_on(page) -> list[str]:
    """The texts of the page that still read as English."""
    return sorted({text for text in page.evaluate(TEXT_SCRIPT)
                   if text not in OWN_NAMES and ENGLISH.search(text)})


@pytest.mark.parametrize("language", ["nl", "fr"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_admin_page_speaks_the_users_language(app, page, live_server, admin, tenant,
                                                    run_jobs, request, language):
    ids = long_data(tenant.id, run_jobs)
    set_language(User.get(User.email == admin.email).id, language)
    page.set_default_timeout(10_000)
    log_in(page, live_server, admin)
    assert page.locator("html").get_attribute("lang") == language

    english, wide = {}, {}
    for name, path in page_urls(app, ids):
        for size, label in ((PHONE, "phone"), (LAPTOP, "laptop")):
            page.set_viewport_size(size)
            page.goto(live_server + path)
            snap(page, request, f"lang-{language}-{label}-{name}")
            if page.evaluate("document.documentElement.scrollWidth") > size["width"]:
                wide[f"{name} {label}"] = page.evaluate(WIDE_SCRIPT)
        found = english_on(page)
        if found:
            english[name] = found
    assert english == {}
    assert wide == {}
