"""Validation and finalise jobs: every error kind, errors.csv, merge rules, idempotence."""

import csv
import io

import pytest

from gateway.accounts import add_custom_field
from gateway.contacts import Provenance, upsert
from gateway.imports import jobs
from gateway.imports.models import Import
from gateway.imports.rows import RowBuilder
from gateway.models import Consent, Contact, ContactEvent
from gateway.validation import AccountVocabulary
from tests.gateway.imports.conftest import csv_bytes

HEADER = ["E-mail", "First name", "Language", "Source", "Interests", "Birthday", "Topics",
          "Note"]


@pytest.fixture
def fields(tenant):
    add_custom_field(tenant.id, {"name": "birthday", "type": "date"})
    add_custom_field(tenant.id, {"name": "topics", "type": "multiple_choice",
                                 "choices": ["News", "Events", "Jobs"]})
    add_custom_field(tenant.id, {"name": "note", "type": "text"})
    return tenant


def seed(tenant, email, status="confirmed", **values):
    clean = {"email": email, "language": "nl", "source": "Website", **values}
    contact, _ = upsert(tenant.id, clean, status=status, provenance=Provenance("api"),
                        field_types={"topics": "multiple_choice"})
    return contact


MAPPING = {"E-mail": "email", "First name": "first_name", "Language": "language",
           "Source": "source", "Interests": "interests", "Birthday": "birthday",
           "Topics": "topics", "Note": "note"}


def test_every_error_kind_is_reported_with_row_column_value_reason_and_fix(importer, fields):
    seed(fields, "black@example.com", status="blacklisted")
    rows = [HEADER,
            ["ok@example.com", "Ok", "nl", "Website", "Sports", "2018-08-25", "News", ""],
            ["not-an-address", "A", "nl", "Website", "", "", "", ""],
            ["black@example.com", "B", "nl", "Website", "", "", "", ""],
            ["OK@example.com", "Dup", "nl", "Website", "", "", "", ""],
            ["d@example.com", "D", "nl", "Website", "", "25/08/2018", "", ""],
            ["e@example.com", "E", "de", "Website", "", "", "", ""],
            ["f@example.com", "F", "nl", "website", "", "", "", ""],
            ["g@example.com", "G", "nl", "Website", "sports", "", "", ""],
            ["h@example.com", "H", "nl", "Website", "", "", "news", ""],
            ["i@example.com", "x" * 201, "nl", "Website", "", "", "", ""],
            ["j@example.com", "J", "nl", "Website", "", "", "", "=HYPERLINK(\"x\")"]]
    imp = importer.validate(csv_bytes(rows), MAPPING)
    assert imp["step"] == "ready"
    counts = imp["counts"]
    assert counts["rows"] == 11 and counts["valid"] == 2
    assert counts["blacklisted"] == 1 and counts["duplicates"] == 1
    assert counts["failed"] == 8
    assert counts["failed_by_reason"] == {
        "duplicate": 1, "invalid_date": 1, "invalid_email": 1, "too_long": 1,
        "unknown_choice": 1, "unknown_interest": 1, "unknown_language": 1,
        "unknown_source": 1}
    errors = {e["row"]: e for e in imp["errors"]}
    assert errors[3]["column"] == "E-mail" and errors[3]["code"] == "invalid_email"
    assert errors[4]["code"] == "blacklisted"
    assert errors[5]["code"] == "duplicate" and "row 2" in errors[5]["reason"]
    assert errors[6]["code"] == "invalid_date" and errors[6]["column"] == "Birthday"
    assert errors[6]["value"] == "25/08/2018" and "2018-08-25" in errors[6]["suggestion"]
    assert errors[7]["code"] == "unknown_language"
    assert errors[8]["suggestion"] == "Website" and errors[8]["column"] == "Source"
    assert errors[9]["suggestion"] == "Sports" and errors[9]["column"] == "Interests"
    assert errors[10]["suggestion"] == "News" and errors[10]["code"] == "unknown_choice"
    assert errors[11]["code"] == "too_long" and errors[11]["column"] == "First name"

    text = importer.errors_csv(imp["id"])
    got = list(csv.reader(io.StringIO(text)))
    assert got[0] == HEADER + ["row", "reason", "suggested fix"]
    assert [r[0] for r in got[1:]] == ["not-an-address", "black@example.com",
                                       "OK@example.com", "d@example.com", "e@example.com",
                                       "f@example.com", "g@example.com", "h@example.com",
                                       "i@example.com"]
    by_email = {r[0]: r for r in got[1:]}
    assert by_email["f@example.com"][-3] == "8"  # the spreadsheet row it came from
    assert "Did you mean 'Website'?" in by_email["f@example.com"][-2]
    assert by_email["f@example.com"][-2].startswith("Source: ")
    assert by_email["f@example.com"][-1] == "Source: Use 'Website'"
    assert "blacklisted" in by_email["black@example.com"][-2]
    assert by_email["d@example.com"][-1] == "Birthday: Write the date as 2018-08-25"
    # the reasons in Dutch or French where a translation exists, the columns stay the same
    dutch = list(csv.reader(io.StringIO(importer.client.get(
        f"/api/imports/{imp['id']}/errors.csv?lang=nl",
        headers=importer.tenant.headers).content.decode("utf-8-sig"))))
    assert dutch[0][-3:] == ["rij", "reason", "voorgestelde oplossing"]
    assert {r[0]: r for r in dutch[1:]}["f@example.com"][-2:] == [
        "Source: Onbekende bron 'website'", "Source: Gebruik 'Website'"]
    french = importer.client.get(f"/api/imports/{imp['id']}/errors.csv",
                                 headers={**importer.tenant.headers,
                                          "Accept-Language": "fr-BE,fr;q=0.9"})
    assert "Source: Source inconnue « website »" in french.content.decode("utf-8-sig")

    imp = importer.finalise(imp["id"])
    assert imp["counts"]["created"] == 2
    assert importer.contact("j@example.com")["custom_fields"]["note"] == '=HYPERLINK("x")'
    assert importer.contact("ok@example.com")["custom_fields"] == {
        "birthday": "2018-08-25", "topics": ["News"]}
    assert importer.contact("black@example.com")["status"] == "blacklisted"
    assert importer.contact("d@example.com") is None


def test_errors_csv_keeps_the_semicolon_and_defuses_formulas(importer, fields):
    rows = [["email", "first name", "source", "language"],
            ["=cmd|'/C calc'!A0", "+Ann", "@Website", "-nl"]]
    imp = importer.validate(csv_bytes(rows, delimiter=";"))
    assert imp["delimiter"] == ";"
    text = importer.errors_csv(imp["id"])
    lines = text.splitlines()
    assert lines[0] == "email;first name;source;language;row;reason;suggested fix"
    cells = next(csv.reader(io.StringIO(lines[1]), delimiter=";"))
    assert cells[:4] == ["'=cmd|'/C calc'!A0", "'+Ann", "'@Website", "'-nl"]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)


def test_corrected_errors_csv_reimports(importer, fields):
    rows = [["email", "source", "language", "first name"],
            ["ann@example.com", "website", "nl", "-"]]
    imp = importer.run(csv_bytes(rows))
    assert imp["counts"]["failed"] == 1 and imp["counts"]["created"] == 0
    fixed = importer.errors_csv(imp["id"]).replace("website", "Website")
    imp = importer.run(fixed.encode("utf-8-sig"))
    assert imp["counts"]["created"] == 1 and imp["counts"]["failed"] == 0
    assert imp["mapping"]["reason"] is None
    assert importer.contact("ann@example.com")["first_name"] is None


def test_reimport_follows_the_merge_rules(importer, fields):
    seed(fields, "ann@example.com", first_name="Ann", name="Peeters", interests=["Music"],
         custom_fields={"topics": ["Jobs", "Events"], "note": "keep"})
    seed(fields, "unc@example.com", status="unconfirmed", first_name="Unc")
    rows = [["email", "first name", "name", "interests", "topics", "note", "language",
             "source"],
            ["ann@example.com", "", "-", "Sports", "News", "", "", ""],
            ["unc@example.com", "Unc", "", "", "", "", "", ""],
            ["new@example.com", "New", "", "Music", "", "", "fr", "Fair"]]
    imp = importer.run(csv_bytes(rows))
    assert (imp["counts"]["created"], imp["counts"]["updated"],
            imp["counts"]["unchanged"]) == (1, 2, 0)
    ann = importer.contact("ann@example.com")
    assert ann["first_name"] == "Ann"  # rule 1: empty never overwrites
    assert ann["name"] is None  # rule 2: "-" clears
    assert ann["interests"] == ["Music", "Sports"]  # rule 3: added
    assert ann["custom_fields"]["topics"] == ["News"]  # rule 4: replaced
    assert ann["custom_fields"]["note"] == "keep"
    assert ann["status"] == "confirmed"
    assert importer.contact("unc@example.com")["status"] == "confirmed"  # attested consent
    new = importer.contact("new@example.com")
    assert new["status"] == "confirmed" and new["language"] == "fr"
    consent = Consent.get(Consent.contact == new["id"])
    assert (consent.channel, consent.reference) == ("import", f"import:{imp['id']}")
    assert Consent.select().where(Consent.reference == f"import:{imp['id']}").count() == 1
    kinds = {e.kind for e in ContactEvent.select().where(
        ContactEvent.reference == f"import:{imp['id']}")}
    assert kinds == {"created", "updated", "confirmed"}

    again = importer.run(csv_bytes(rows))  # the same file again: nothing changes
    assert (again["counts"]["created"], again["counts"]["updated"],
            again["counts"]["unchanged"]) == (0, 0, 3)


def test_missing_language_and_source_need_fallbacks_for_new_contacts_only(importer, fields,
                                                                          client):
    seed(fields, "old@example.com")
    rows = [["email", "language"], ["old@example.com", ""], ["new@example.com", ""],
            ["fr@example.com", "fr"]]
    imp = importer.validate(csv_bytes(rows))
    assert imp["step"] == "fallbacks"
    assert imp["needs_fallbacks"] == ["language", "source"]
    assert imp["counts"]["missing_language"] == 1 and imp["counts"]["missing_source"] == 2
    r = client.post(f"/api/imports/{imp['id']}/finalise", headers=fields.headers)
    assert r.status_code == 409 and "fallback" in r.json()["error"]["message"]
    r = importer.put(imp["id"], "fallbacks", {"language": "NL", "source": "website"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["suggestion"] == "Website"
    r = importer.put(imp["id"], "fallbacks", {"language": "nl"})
    assert r.json()["step"] == "fallbacks"
    imp = importer.finalise(imp["id"], {"source": "Fair"})
    assert imp["counts"]["created"] == 2 and imp["counts"]["unchanged"] == 1
    assert any("fallback 'nl'" in w for w in imp["warnings"])
    assert importer.contact("new@example.com")["language"] == "nl"
    assert importer.contact("fr@example.com")["language"] == "fr"
    assert importer.contact("fr@example.com")["source"] == "Fair"
    old = importer.contact("old@example.com")
    assert (old["language"], old["source"]) == ("nl", "Website")


def test_jobs_are_idempotent(importer, fields):
    rows = [["email", "language", "source"], ["a@example.com", "nl", "Website"],
            ["bad", "nl", "Website"]]
    imp = importer.run(csv_bytes(rows))
    before = (imp["counts"], Contact.select().count(), ContactEvent.select().count())
    assert jobs.validate_import(imp["id"]) == "skipped"
    assert jobs.finalise_import(imp["id"]) == "done"
    after = importer.get(imp["id"])
    assert (after["counts"], Contact.select().count(), ContactEvent.select().count()) == before


def test_finalise_resumes_after_its_checkpoint_and_refuses_a_stale_worker(importer, fields,
                                                                          monkeypatch):
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 2)
    rows = [["email", "language", "source"]] + [[f"u{i}@example.com", "nl", "Website"]
                                                for i in range(7)]
    imp = importer.validate(csv_bytes(rows))
    importer.client.post(f"/api/imports/{imp['id']}/finalise", headers=fields.headers)
    row = Import.get_by_id(imp["id"])
    stale = Import.get_by_id(imp["id"])
    # A worker that wrote the first chunk and died:
    vocab = AccountVocabulary.load(fields.id)
    builder = RowBuilder(row.columns, row.mapping, vocab)
    items = [(record, builder.check(cells)[0]) for record, cells in
             jobs.iter_records(jobs.file_path(row), row.encoding, row.delimiter)][:2]
    first = jobs._ChunkWriter(row, builder, vocab)
    assert first.write(items, [], 2, 2)
    late = jobs._ChunkWriter(stale, builder, vocab)
    assert not late.write(items, [], 2, 2)  # same chunk again: refused, nothing doubled
    assert Import.get_by_id(imp["id"]).progress_done == 2
    importer.run_jobs()
    done = importer.get(imp["id"])
    assert done["step"] == "done" and done["counts"]["created"] == 7
    assert done["progress"] == {"done": 7, "total": 7}
    assert Contact.select().count() == 7
    assert Consent.select().count() == 7


def _snapshot(account_id: int, import_id: int) -> dict:
    """What a user could check after an import: contacts, consent, history, counts, errors."""
    from gateway.imports.models import ImportRowError
    contacts = sorted((c.email, c.first_name, c.name, c.language, c.source, c.status,
                       tuple(c.preferences), tuple(c.interests),
                       tuple(sorted(c.custom_fields.items())))
                      for c in Contact.select().where(Contact.account == account_id))
    ref = f"import:{import_id}"
    imp = Import.get_by_id(import_id)
    return {"contacts": contacts,
            "consents": Consent.select().where(Consent.reference == ref).count(),
            "events": sorted((e.kind, e.contact.email) for e in ContactEvent.select()
                             .where(ContactEvent.reference == ref)),
            "counts": imp.counts, "step": imp.step,
            "errors": sorted((e.row, e.code) for e in ImportRowError.select().where(
                ImportRowError.imp == import_id))}


def test_a_worker_killed_mid_finalise_then_rerun_gives_the_clean_run_store(
        importer, client, env, tenant, run_jobs, monkeypatch):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import make_tenant
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 50)  # the spool's chunks: many commits
    clean_tenant = make_tenant("Clean")
    rows = [["email", "first name", "language", "source", "interests"]]
    for i in range(3000):
        rows.append([f"user{i}@example.com", f"Name{i}", "nl" if i % 3 else "",
                     "Website", "Sports" if i % 2 else "Music"])
    rows += [["user5@example.com", "dup", "nl", "Website", ""], ["bad@", "x", "nl", "Fair", ""]]
    data = csv_bytes(rows)
    for t in (tenant, clean_tenant):  # some updates, one blacklisted contact
        for i in range(0, 600, 7):
            seed(t, f"user{i}@example.com", first_name="Old", interests=["Music"])
        seed(t, "user1@example.com", status="blacklisted")

    def prepared(t) -> int:
        importer.tenant = t
        imp = importer.validate(data)
        importer.put(imp["id"], "fallbacks", {"language": "fr"})
        r = client.post(f"/api/imports/{imp['id']}/finalise", headers=t.headers)
        assert r.json()["step"] == "finalising"
        return imp["id"]

    clean_id = prepared(clean_tenant)
    run_jobs()
    assert Import.get_by_id(clean_id).step == "done"
    crash_id = prepared(tenant)
    child_env = dict(os.environ, **env, INLET_IMPORT_CHUNK_ROWS="20")
    code = ("from gateway import runtime; from gateway.settings import Settings; "
            "runtime.configure(Settings.from_env()); "
            "from gateway.imports.jobs import finalise_import; "
            f"finalise_import({crash_id})")
    child = subprocess.Popen([sys.executable, "-c", code], env=child_env)
    deadline = time.time() + 60
    while Import.get_by_id(crash_id).progress_done < 500 and time.time() < deadline:
        assert child.poll() is None, "the worker finished before it could be killed"
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    killed = Import.get_by_id(crash_id)
    assert killed.step == "finalising"
    assert 500 <= killed.progress_done < killed.total_rows
    assert 0 < Consent.select().where(Consent.reference == f"import:{crash_id}").count()

    run_jobs()  # the queued finalise job runs again and resumes
    crashed, clean = _snapshot(tenant.id, crash_id), _snapshot(clean_tenant.id, clean_id)
    assert crashed["step"] == "done"
    assert crashed["counts"]["created"] == 3000 - 87 and crashed["counts"]["blacklisted"] == 1
    assert crashed == clean


@pytest.mark.parametrize("spoiler", ["vocabulary", "torn", "missing"])
def test_finalise_checks_the_rows_again_when_the_spool_cannot_be_trusted(
        importer, fields, monkeypatch, spoiler):
    from gateway.accounts import add_vocabulary, delete_vocabulary
    from gateway.imports import spool
    from gateway.models import Vocabulary
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 3)
    rows = [["email", "language", "source"]] + [
        [f"u{i}@example.com", "nl", "Fair" if i % 2 else "Website"] for i in range(8)]
    imp = importer.validate(csv_bytes(rows))
    assert imp["counts"]["valid"] == 8
    part = Import.get_by_id(imp["id"]).parts.get()
    path = spool.path_for(jobs.file_path(part.imp), jobs.part_name(part))
    assert path.exists()
    if spoiler == "vocabulary":  # "Fair" removed after validation
        fair = Vocabulary.get((Vocabulary.account == fields.id) & (Vocabulary.name == "Fair"))
        delete_vocabulary(fields.id, "source", fair.id)
        add_vocabulary(fields.id, "source", "fair")
    elif spoiler == "torn":
        path.write_bytes(path.read_bytes()[:-40])
    else:
        path.unlink()
    done = importer.finalise(imp["id"])
    assert done["step"] == "done" and done["progress"] == {"done": 8, "total": 8}
    if spoiler == "vocabulary":
        assert done["counts"]["created"] == 4 and done["counts"]["failed"] == 4
        assert done["counts"]["failed_by_reason"] == {"unknown_source": 4}
        assert {e["suggestion"] for e in done["errors"]} == {"fair"}
        assert Contact.select().count() == 4
    else:
        assert done["counts"]["created"] == 8 and Contact.select().count() == 8
    assert not path.exists()


def test_an_import_whose_job_was_lost_is_queued_again_by_the_sweep(importer, fields, store):
    from datetime import timedelta
    rows = [["email", "language", "source"], ["a@example.com", "nl", "Website"]]
    r = importer.upload(csv_bytes(rows))
    import_id = r.json()["id"]
    assert importer.put(import_id, "consent", {"obtained_rightfully": True}).status_code == 200
    store.rq.empty()  # the validation job is lost
    importer.run_jobs()
    assert importer.get(import_id)["step"] == "validating"
    assert jobs.requeue_stalled(older_than=timedelta(minutes=10)) == 0  # not stalled yet
    assert jobs.requeue_stalled(older_than=timedelta(0)) == 1
    importer.run_jobs()
    assert importer.get(import_id)["step"] == "ready"
    done = importer.finalise(import_id)
    assert done["step"] == "done" and done["counts"]["created"] == 1


# ---- validation in parts ------------------------------------------------------------------

@pytest.fixture
def split(monkeypatch):
    """Split validations into ``n`` parts of at least 5 rows (shared by workers)."""
    import dataclasses

    from gateway import runtime

    def into(n: int) -> None:
        monkeypatch.setattr(jobs, "MIN_PART_ROWS", 5)
        monkeypatch.setattr(jobs, "CHUNK_ROWS", 3)
        monkeypatch.setitem(runtime._current, "settings",
                            dataclasses.replace(runtime.settings(), import_parts=n))
    return into


def _mixed_rows() -> list[list[str]]:
    """Duplicates within and across parts, a blacklisted row, bad cells, missing language."""
    rows = [["email", "first name", "language", "source"]]
    for i in range(30):
        rows.append([f"u{i % 17}@example.com", f"N{i}", "" if i % 4 == 0 else "nl",
                     "Fair" if i % 5 == 0 else "Website"])
    rows[8][0] = "black@example.com"
    rows[12][2] = "xx"
    rows[20][0] = "not-an-address"
    rows[25][3] = "website"
    return rows


def _validated_state(import_id: int) -> tuple:
    from gateway.imports.models import ImportRowError
    imp = Import.get_by_id(import_id)
    errors = sorted((e.row, e.column, e.value, e.code, e.reason, e.suggestion) for e in
                    ImportRowError.select().where(ImportRowError.imp == import_id))
    return (imp.step, imp.counts, imp.progress_done, imp.total_rows, imp.needs_fallbacks,
            errors)


def test_parts_decide_exactly_what_one_pass_decides(importer, fields, split):
    from gateway.imports.models import ImportPart
    from tests.conftest import make_tenant
    alone = make_tenant("Alone")
    for t in (fields, alone):
        seed(t, "black@example.com", status="blacklisted")
        seed(t, "u3@example.com", first_name="Old")
    data = csv_bytes(_mixed_rows())
    importer.tenant = alone
    one = importer.validate(data)
    assert ImportPart.select().where(ImportPart.imp == one["id"]).count() == 1
    split(4)
    importer.tenant = fields
    four = importer.validate(data)
    parts = list(ImportPart.select().where(ImportPart.imp == four["id"])
                 .order_by(ImportPart.number))
    assert [(p.start, p.end) for p in parts] == [(0, 8), (8, 16), (16, 24), (24, None)]
    assert _validated_state(four["id"]) == _validated_state(one["id"])
    counts = four["counts"]
    # 4 rows fail on their own; of the 26 others, 16 addresses are distinct (u7 never valid)
    assert counts["rows"] == 30 and counts["valid"] == 16 and counts["duplicates"] == 10
    assert counts["blacklisted"] == 1 and counts["existing"] == 1 and counts["new"] == 15
    errors = {(e["row"], e["code"]): e for e in importer.get(four["id"])["errors"]}
    # row 20 (u1, in the third part) repeats row 3 (the first part): the first row wins
    assert "same address is in row 3;" in errors[(20, "duplicate")]["reason"]

    fallbacks = {"language": "fr"}
    importer.tenant = alone
    importer.finalise(one["id"], fallbacks)
    importer.tenant = fields
    done = importer.finalise(four["id"], fallbacks)
    assert done["step"] == "done" and done["counts"]["created"] == 15
    assert _snapshot(fields.id, four["id"])["contacts"] == \
        _snapshot(alone.id, one["id"])["contacts"]
    assert importer.contact("u1@example.com")["first_name"] == "N1"  # row 3, not row 20


def _planned(importer, data: bytes) -> tuple[int, list]:
    """An import in the validating step with its parts planned, none of them run yet."""
    from gateway.imports.models import ImportPart
    r = importer.upload(data)
    import_id = r.json()["id"]
    importer.put(import_id, "consent", {"obtained_rightfully": True})
    jobs._plan_parts(Import.get_by_id(import_id))
    return import_id, list(ImportPart.select().where(ImportPart.imp == import_id)
                           .order_by(ImportPart.number))


def test_parts_finishing_at_once_join_exactly_once(importer, fields, split, monkeypatch):
    import threading

    from gateway.db import db
    from tests.conftest import make_tenant
    importer.tenant = make_tenant("Alone")
    reference = _validated_state(importer.validate(csv_bytes(_mixed_rows()))["id"])
    split(3)
    importer.tenant = fields
    import_id, parts = _planned(importer, csv_bytes(_mixed_rows()))
    together = threading.Barrier(len(parts))
    finish = jobs._finish_part

    def finish_together(*args):
        together.wait(timeout=10)  # every part checked: now all try to finish and join
        return finish(*args)
    monkeypatch.setattr(jobs, "_finish_part", finish_together)
    outcomes = []

    def worker(part):
        with db.connection_context():
            outcomes.append(jobs.run_part(import_id, part.number, part.run))
    threads = [threading.Thread(target=worker, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["fallbacks", "validating", "validating"]
    assert _validated_state(import_id) == reference


def test_a_part_retried_after_failing_midway_counts_and_reports_each_row_once(
        importer, fields, split, monkeypatch):
    from gateway.imports import spool
    from tests.conftest import make_tenant
    importer.tenant = make_tenant("Alone")
    reference = _validated_state(importer.validate(csv_bytes(_mixed_rows()))["id"])
    split(2)
    importer.tenant = fields
    import_id, (first, second) = _planned(importer, csv_bytes(_mixed_rows()))
    write_keys = spool.write_keys

    def crash(*args):  # its error rows and progress are committed, then the worker dies
        raise OSError("disk full")
    monkeypatch.setattr(spool, "write_keys", crash)
    with pytest.raises(OSError):
        jobs.validate_part(import_id, second.number, second.run)
    assert Import.get_by_id(import_id).progress_done > 0
    monkeypatch.setattr(spool, "write_keys", write_keys)
    assert jobs.validate_part(import_id, second.number, second.run) == "validating"
    assert jobs.validate_part(import_id, second.number, second.run) == "validating"  # again
    assert jobs.validate_part(import_id, first.number, first.run) == "fallbacks"
    assert jobs.validate_part(import_id, first.number, first.run) == "skipped"  # joined
    assert _validated_state(import_id) == reference


def test_a_part_of_an_earlier_run_is_skipped(importer, fields, split):
    split(2)
    import_id, (_, old) = _planned(importer, csv_bytes(_mixed_rows()))
    jobs._plan_parts(Import.get_by_id(import_id))  # validation started over (the sweep)
    assert jobs.validate_part(import_id, old.number, old.run) == "skipped"
    assert Import.get_by_id(import_id).progress_done == 0


def test_a_run_superseded_midway_writes_nothing_more(importer, fields, split):
    from gateway.imports.models import ImportRowError
    split(2)
    import_id, (old, _) = _planned(importer, csv_bytes(_mixed_rows()))
    newer = []

    def start_over(done, total):  # the sweep queues validation again while the part runs
        if not newer:
            newer.extend(jobs._plan_parts(Import.get_by_id(import_id)))
    assert jobs.run_part(import_id, old.number, old.run, start_over) == "skipped"
    assert ImportRowError.select().where(ImportRowError.imp == import_id).count() == 0
    assert [p.done_rows for p in newer] == [0, 0]
    for part in newer:
        jobs.validate_part(import_id, part.number, part.run)
    assert Import.get_by_id(import_id).step == "fallbacks"


def test_the_cli_checks_every_part_in_its_own_process(importer, fields, split):
    from gateway.imports import service
    from tests.conftest import make_tenant
    importer.tenant = make_tenant("Alone")
    reference = _validated_state(importer.validate(csv_bytes(_mixed_rows()))["id"])
    split(3)
    importer.tenant = fields
    import_id, _ = _planned(importer, csv_bytes(_mixed_rows()))
    seen = []
    state = service.run_now(fields.id, import_id, lambda done, total: seen.append(done))
    assert state["step"] == "fallbacks"
    assert seen == sorted(seen) and seen[-1] == 30  # the bar only moves forward, to the end
    assert _validated_state(import_id) == reference


# ---- a step that fails again and again (issue 14) ----------------------------------------------

def _ready(importer, n: int = 3) -> int:
    rows = [["email", "language", "source"]] + [[f"u{i}@example.com", "nl", "Website"]
                                                for i in range(n)]
    imp = importer.validate(csv_bytes(rows))
    assert imp["step"] == "ready"
    return imp["id"]


def _break_files(import_id: int) -> bytes:
    """Take the import's file and spool away: every finalise run then fails the same way."""
    from gateway.imports import spool
    path = jobs.file_path(Import.get_by_id(import_id))
    data = path.read_bytes()
    spool.remove(path)
    path.unlink()
    return data


def test_a_finalise_failing_every_time_ends_failed_with_a_reason_and_is_never_requeued(
        importer, fields, client):
    from datetime import timedelta

    from gateway.auth import create_user
    from tests.gateway.admin.conftest import login_client
    import_id = _ready(importer)
    _break_files(import_id)
    r = client.post(f"/api/imports/{import_id}/finalise", headers=importer.tenant.headers)
    assert r.status_code == 202
    importer.run_jobs()  # the first run and the queue's two retries
    imp = importer.get(import_id)
    assert imp["step"] == "failed"
    assert imp["counts"][jobs.FAILED_ATTEMPTS] == jobs.MAX_ATTEMPTS
    reason = imp["warnings"][0]
    assert f"failed {jobs.MAX_ATTEMPTS} times in a row" in reason and "Nothing was written" \
        in reason
    assert imp["finished_at"] is not None
    # never queued again: not by the sweep, not by another finalise
    assert jobs.requeue_stalled(older_than=timedelta(0)) == 0
    r = client.post(f"/api/imports/{import_id}/finalise", headers=importer.tenant.headers)
    assert r.status_code == 409 and "failed" in r.json()["error"]["message"]
    create_user(fields.id, "boss@acme.example.com", "correct horse battery")
    assert login_client(client, "boss@acme.example.com", "correct horse battery"
                        ).status_code == 303
    client.headers["accept-language"] = "en"  # else the account's first language, Dutch
    page = client.get(f"/admin/imports/{import_id}")
    assert page.status_code == 200
    assert "import failed" in page.text and f"failed {jobs.MAX_ATTEMPTS} times" in page.text
    listing = client.get("/admin/imports")
    assert listing.status_code == 200 and "<td data-label=\"Step\">Failed</td>" in listing.text
    assert Contact.select().count() == 0


def test_a_failure_then_progress_starts_the_count_again(importer, fields):
    import_id = _ready(importer)
    data = _break_files(import_id)
    Import.update(step="finalising").where(Import.id == import_id).execute()
    for n in (1, 2):
        with pytest.raises(FileNotFoundError):
            jobs.finalise_import(import_id)
        assert Import.get_by_id(import_id).counts[jobs.FAILED_ATTEMPTS] == n
    jobs.file_path(Import.get_by_id(import_id)).write_bytes(data)  # the cause is gone
    assert jobs.finalise_import(import_id) == "done"
    imp = Import.get_by_id(import_id)
    assert jobs.FAILED_ATTEMPTS not in imp.counts and imp.counts["created"] == 3


def test_a_validation_failing_every_time_ends_failed_too(importer, fields):
    rows = [["email", "language", "source"], ["a@example.com", "nl", "Website"]]
    r = importer.upload(csv_bytes(rows))
    import_id = r.json()["id"]
    jobs.file_path(Import.get_by_id(import_id)).unlink()
    assert importer.put(import_id, "consent", {"obtained_rightfully": True}).status_code == 200
    importer.run_jobs()
    imp = importer.get(import_id)
    assert imp["step"] == "failed"
    assert imp["warnings"] == [f"Checking the rows failed {jobs.MAX_ATTEMPTS} times in a row, "
                               "so the import was stopped. Nothing was written."]


# ---- NUL and other hostile cells (issue 14 #3) ----------------------------------------------

PAD = "x" * 1000  # keeps the NUL bytes past the first KB, where binary files are told apart


def test_a_nul_in_a_cell_never_wedges_the_import(importer, fields, client):
    rows = [["email", "first_name", "language", "source", "note"],
            ["pad@example.com", "Pad", "nl", "Website", PAD],
            ["clean@example.com", "Clean", "nl", "Website", ""],
            ["eve@example.com", "E\x00ve", "nl", "Website", "a\x00b"],
            ["bad\x00@example.com", "Bad", "nl", "Website", ""],
            ["last@example.com", "Last", "nl", "Website", "line one\r\nline\x00 two"]]
    imp = importer.validate(csv_bytes(rows))
    assert imp["step"] == "ready", imp
    done = importer.finalise(imp["id"])
    assert done["step"] == "done", done  # never failed, never stuck in finalising
    r = client.get("/api/contacts", params={"limit": 500}, headers=importer.tenant.headers)
    assert r.status_code == 200
    stored = {c["email"]: c for c in r.json()["items"]}
    # every row validation accepted is written, clean ones included
    failed_rows = {e["row"] for e in done["errors"]}
    for n, row in enumerate(rows[1:], start=2):
        assert (row[0].lower() in stored) != (n in failed_rows), (n, row[0])
    assert {"pad@example.com", "clean@example.com", "last@example.com"} <= set(stored)
    for contact in stored.values():
        assert "\x00" not in repr(contact)
    assert importer.errors_csv(imp["id"])  # and the error file reads


def test_an_import_by_a_token_with_a_200_character_name_is_written(client, tenant, run_jobs):
    """The consent record keeps who ran the import within its column (PostgreSQL refused
    ``token:N`` + a 200-character name in a 200-character column on every finalise)."""
    from gateway.auth import create_token
    from tests.gateway.imports.conftest import Importer
    _, plain = create_token(tenant.id, ("imports:write", "contacts:read"), name="n" * 200)
    tenant.token = plain
    importer = Importer(client, tenant, run_jobs)
    done = importer.run(csv_bytes([["email", "language", "source"],
                                   ["ann@example.com", "nl", "Website"]]))
    assert done["step"] == "done" and done["counts"]["created"] == 1
    consent = Consent.get()
    assert consent.actor.startswith("token:") and len(consent.actor) == 200
