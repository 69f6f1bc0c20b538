"""Embeddable opt-in forms with double opt-in (SPEC §5).

Quick start::

    inlet form create 1 --name "Newsletter" --source Website --fields first_name \\
        --origin https://www.example.com

prints the form's id, slug and four snippets: the hosted page ``/f/<slug>``, an ``<iframe>``,
a ``<script>`` embed and a plain HTML ``<form>`` (works with JavaScript off; every site that
shows an embed must be listed with ``--origin``). A submission is queued; its job creates the
contact unconfirmed and mails a confirmation link (``/confirm/<token>``, signed, single-use,
``INLET_CONFIRM_MAX_AGE`` seconds, default 7 days).

Modules: ``models`` (Form, Submission, Confirmation, UnsubscribeLink), ``service``
(definitions, the public snapshot, submissions, mails, confirming — the functions the admin UI
and other areas call), ``embed`` (snippets, embed.js), ``tokens`` (one itsdangerous salt per
purpose; a link names its row and that row's random nonce), ``mails`` (sandboxed
account-written templates), ``texts`` (nl/fr/en defaults), ``jobs``, ``routes``, ``spec``,
``cli``.
"""
