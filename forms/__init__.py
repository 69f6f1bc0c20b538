"""Embeddable opt-in forms with double opt-in (README, "Opt-in forms").

Quick start::

    inlet form create 1 --name "Newsletter" --source Website --fields first_name \\
        --origin https://www.example.com

prints the form's id, slug and four snippets: the hosted page ``/f/<slug>``, an ``<iframe>``,
a ``<script>`` embed and a plain HTML ``<form>`` (works with JavaScript off; every site that
shows an embed must be listed with ``--origin``). A submission is queued; its job creates the
contact unconfirmed and mails a confirmation link (``/confirm/<token>``, signed, single-use,
``INLET_CONFIRM_MAX_AGE`` seconds, default 7 days).

Modules: ``models`` (Form, Submission, Confirmation, UnsubscribeLink), ``definitions`` (list,
create, change a form: what the admin UI, the API and the CLI call), ``public`` (the cached
snapshot a public request and a job use; page language and inputs), ``submissions`` (reading
a post, the job that writes it), ``mails`` (sandboxed account-written templates; queueing the
confirmation and welcome mails: ``send_confirmation`` is for other areas too),
``confirmations`` (using confirmation and unsubscribe links), ``sql`` (the fixed statements a
drain runs), ``embed`` (snippets, embed.js), ``tokens`` (one itsdangerous salt per purpose; a
link names its row and that row's random nonce), ``texts`` (nl/fr/en defaults), ``jobs``,
``routes``, ``spec``, ``cli``.
"""
