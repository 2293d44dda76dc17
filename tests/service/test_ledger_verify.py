"""The ledger as verifiable as its log (issue 14 item 3): every edit made by SQL behind the
ledger's back — a deleted court record, a value turned from -1000 into +1000, a forged
backdated record, a decision turned from deny into allow, a provider's role, a rulebook
edited under its old sha256, a deleted sealed decision — is named by `socialcredit
verify`, on SQLite and PostgreSQL. Before, `log verify` passed on every one of them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.ledger.digest import HASHED_FIELDS, record_hash, record_hashes, record_json
from socialcredit.service import Service
from socialcredit.transparency import merkle
from socialcredit.transparency.events import parse_leaf
from tests.conftest import Clock
from tests.helpers import BASE

runner = CliRunner()
H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}
# BASE plus a fine scored per unit of its (negative) value
_VOID = "  - {id: void, kind: void, providers: [reviewer], evidence: required, item: review}\n"
assert _VOID in BASE
RULEBOOK = BASE.replace(
    "  - {id: void, kind: void, providers: [reviewer], evidence: required, item: review}\n",
    "  - {id: void, kind: void, providers: [reviewer], evidence: required, item: review}\n"
    "  - {id: fine, kind: conduct, providers: [court], evidence: required, legal_basis: law,\n"
    "     category: court_judgment, context: judicial, item: judicial,\n"
    "     negative_values: allowed}\n").replace(
    "  - {record: hours, dimension: civic, points_per_unit: 0.5}\n",
    "  - {record: hours, dimension: civic, points_per_unit: 0.5}\n"
    "  - {record: fine, dimension: money, points_per_unit: 0.1, expires: 1y}\n")


@pytest.fixture
def world(make_ledger: Callable[..., Service], clock: Clock, db_url: str) -> dict[str, Any]:
    """Two ingests (a court ruling that lists alice, a -1000 fine), decisions sealed."""
    svc = make_ledger(RULEBOOK, PROVIDERS)
    svc.records.ingest_text(H + "court-1:c1,court-1,alice,person,ruling,2025-12-01,,urn:c1,\n"
                                "court-1:f1,court-1,carol,person,fine,2025-12-02,-1000,urn:f1,\n"
                                "bank-1:a1,bank-1,bob,person,arrears,2025-12-03,,urn:a1,\n")
    clock.set("2026-01-05T00:00:00Z")
    svc.records.ingest_text(H + "bank-1:a2,bank-1,bob,,arrears,2026-01-02,,urn:a2,\n"
                                "bank-1:h1,bank-1,dave,person,hours,2026-01-03,4,,\n")
    clock.set("2026-02-01T00:00:00Z")
    denied = svc.decisions.decide("alice", "train")
    assert denied.effect == "deny"
    svc.decisions.decide("bob", "train")
    svc.decisions.seal()
    svc.decisions.decide("carol", "loan")  # not sealed yet
    return {"svc": svc, "db": db_url, "denied": denied.decision_id}


def verify(db: str) -> tuple[int, str, dict[str, Any]]:
    res = runner.invoke(app, ["verify", "--db", db])
    js = runner.invoke(app, ["verify", "--db", db, "--json"])
    assert js.exit_code == res.exit_code, js.output
    return res.exit_code, res.output, json.loads(js.stdout)


def sql(svc: Service, *statements: str, **params: Any) -> None:
    with svc.ledger.engine.begin() as conn:
        for st in statements:
            conn.execute(text(st), params)


def problems(report: dict[str, Any]) -> list[str]:
    return [p["message"] for p in report["ledger"]["problems"]]


def test_a_sound_ledger_verifies_and_its_batches_are_in_the_log(world: dict[str, Any]) -> None:
    code, output, _report = verify(world["db"])
    assert code == 0, output
    assert "ledger verified: 5 records in 2 batches, 1 rulebooks, 3 decisions (2 sealed), " \
           "3 providers checked" in output
    assert "1 decision(s) are not sealed yet" in output
    svc = world["svc"]
    batches = [e for e in (parse_leaf(d) for _, d, _ in svc.log.leaves())
               if e["kind"] == "records.batch"]
    assert [b["count"] for b in batches] == [3, 2]
    # the leaf's root is the RFC 9162 root of the records' canonical hashes, in seq order
    with svc.ledger.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {', '.join(HASHED_FIELDS)}, digest, batch FROM "
                                 "sc_records ORDER BY seq")).all()
    first = [r for r in rows if r[-1] == batches[0]["batch"]]
    n = len(HASHED_FIELDS)
    hashes = [record_hash(tuple(r[:n])) for r in first]
    assert hashes == [bytes(r[n]) for r in first]
    assert merkle.reference_mth(hashes).hex() == batches[0]["root"]
    registered = {e["provider"]: e["role"] for e in (parse_leaf(d) for _, d, _ in
                                                       svc.log.leaves())
                  if e["kind"] == "provider.registered"}
    assert registered == PROVIDERS


def test_a_deleted_court_record_is_named(world: dict[str, Any]) -> None:
    sql(world["svc"], "DELETE FROM sc_records WHERE record_id = 'court-1:c1'")
    code, output, report = verify(world["db"])
    assert code == 2
    assert "record 'court-1:c1', named by leaf" in output and "(list.entry), is not in the " \
           "ledger: it was deleted" in output
    assert "holds 2 of the 3 records its leaf commits to: 1 deleted" in output
    assert "court-1:c1" in [p["ref"] for p in report["ledger"]["problems"]]


def test_a_value_changed_from_minus_1000_to_plus_1000_is_named(world: dict[str, Any]) -> None:
    svc = world["svc"]
    before = svc.standings.of("carol").score
    sql(svc, "UPDATE sc_records SET value_num = 1000 WHERE record_id = 'court-1:f1'")
    assert svc.standings.of("carol").score > before  # the edit matters
    code, output, _ = verify(world["db"])
    assert code == 2
    assert "record 'court-1:f1' (seq 2, batch" in output
    assert "its fields no longer give the hash stored when it was ingested" in output


def test_a_forged_backdated_record_is_named(world: dict[str, Any]) -> None:
    sql(world["svc"], "INSERT INTO sc_records (record_id, provider, subject, type, kind, "
                      "occurred_at, recorded_at, evidence) VALUES ('court-1:forged', 'court-1', "
                      "'bob', 'ruling', 'conduct', 1700000000000000, 1700000000000000, 'x')")
    code, output, _ = verify(world["db"])
    assert code == 2
    assert "record 'court-1:forged' (seq 6) belongs to no ingest batch: it was inserted behind " \
           "the log's back" in output


def test_a_forged_record_slipped_into_a_batch_is_named(world: dict[str, Any]) -> None:
    """Claiming a committed batch (with a correct hash of its own) does not help."""
    fields = ("court-1:forged", "court-1", "bob", "ruling", "conduct", 1700000000000000,
              1700000000000000, None, None, "x", None, None)
    sql(world["svc"], "INSERT INTO sc_records (record_id, provider, subject, type, kind, "
                      "occurred_at, recorded_at, evidence, batch, digest) SELECT 'court-1:forged', "
                      "'court-1', 'bob', 'ruling', 'conduct', 1700000000000000, "
                      "1700000000000000, 'x', batch, :d FROM sc_records WHERE "
                      "record_id = 'court-1:c1'", d=record_hash(fields))
    code, output, _ = verify(world["db"])
    assert code == 2
    assert "record 'court-1:forged' (seq 6) claims batch" in output and "but lies outside its " \
           "seqs 1..3" in output


def test_a_record_rewritten_with_its_hash_is_caught_by_its_batch(
        world: dict[str, Any]) -> None:
    svc = world["svc"]
    with svc.ledger.engine.connect() as conn:
        row = conn.execute(text(f"SELECT {', '.join(HASHED_FIELDS)} FROM sc_records WHERE "
                                "record_id = 'court-1:f1'")).one()
    forged = list(row)
    forged[7] = 1000.0
    sql(svc, "UPDATE sc_records SET value_num = 1000, digest = :d WHERE record_id = 'court-1:f1'",
        d=record_hash(forged))
    code, output, _ = verify(world["db"])
    assert code == 2
    assert "its records no longer give the root its leaf commits to: a record was " \
           "rewritten together with its stored hash" in output


def test_a_decision_changed_from_deny_to_allow_is_named(world: dict[str, Any]) -> None:
    did = world["denied"]
    sql(world["svc"], "UPDATE sc_decisions SET effect = 'allow', body = replace(body, "
                      "'\"effect\": \"deny\"', '\"effect\": \"allow\"') WHERE "
                      "decision_id = :d", d=did)
    assert world["svc"].decisions.log("alice")[0]["effect"] == "allow"
    code, output, _ = verify(world["db"])
    assert code == 2
    assert f"decision {did} (seq 1): its body changed after it was sealed in leaf" in output


def test_a_decision_column_edited_alone_is_named(world: dict[str, Any]) -> None:
    did = world["denied"]
    sql(world["svc"], "UPDATE sc_decisions SET effect = 'allow' WHERE decision_id = :d",
        d=did)
    code, output, _ = verify(world["db"])
    assert code == 2
    assert f"decision {did} (seq 1): its effect column says 'allow' but its body says " \
           "'deny'" in output


def test_a_decision_rewritten_with_its_seal_digest_is_caught_by_its_batch(
        world: dict[str, Any]) -> None:
    svc = world["svc"]
    with svc.ledger.engine.connect() as conn:
        body = conn.execute(text("SELECT body FROM sc_decisions WHERE seq = 1")).scalar_one()
    forged = body.replace('"effect": "deny"', '"effect": "allow"')
    from socialcredit.decisions.log import body_digest

    sql(svc, "UPDATE sc_decisions SET effect = 'allow', body = :b WHERE seq = 1", b=forged)
    sql(svc, "UPDATE sc_sealed_decisions SET digest = :d WHERE seq = 1", d=body_digest(forged))
    code, output, _ = verify(world["db"])
    assert code == 2
    assert "the decisions stored there no longer give its digest" in output


def test_a_deleted_sealed_decision_is_named(world: dict[str, Any]) -> None:
    sql(world["svc"], "DELETE FROM sc_decisions WHERE seq = 2")
    code, output, report = verify(world["db"])
    assert code == 2
    assert "decision seq 2, sealed in leaf" in output and "is missing: it was deleted" in output
    assert 2 in [p["ref"] for p in report["ledger"]["problems"]]


def test_a_providers_changed_role_is_named(world: dict[str, Any]) -> None:
    sql(world["svc"], "UPDATE sc_providers SET role = 'court' WHERE provider = 'bank-1'")
    code, output, _ = verify(world["db"])
    assert code == 2
    assert "provider 'bank-1' has role 'court' in the ledger, but leaf" in output
    assert "registered it as 'bank'" in output


def test_inserted_and_deleted_providers_are_named(world: dict[str, Any]) -> None:
    sql(world["svc"], "DELETE FROM sc_providers WHERE provider = 'rev-1'",
        "INSERT INTO sc_providers (provider, role, registered_at) VALUES ('court-9', "
        "'court', 0)")
    code, output, _ = verify(world["db"])
    assert code == 2
    assert "provider 'rev-1' (role 'reviewer'), registered in leaf" in output
    assert "provider 'court-9' (role 'court') has no provider.registered leaf" in output


def test_a_rulebook_edited_under_its_old_sha256_is_named(world: dict[str, Any]) -> None:
    svc = world["svc"]
    with svc.ledger.engine.connect() as conn:
        canonical = conn.execute(text("SELECT canonical FROM sc_programs")).scalar_one()
    edited = canonical.replace('"points":-10', '"points":-100')
    assert edited != canonical
    sql(svc, "UPDATE sc_programs SET canonical = :c", c=edited)
    code, output, _ = verify(world["db"])
    assert code == 2
    assert "rulebook test version 1: its stored rulebook (JSON) hashes to" in output
    assert "it was edited after publication" in output


def test_a_rulebook_edited_with_a_new_sha256_is_named(
        world: dict[str, Any]) -> None:
    svc = world["svc"]
    sql(svc, "UPDATE sc_programs SET sha256 = :s", s="0" * 64)
    code, output, _ = verify(world["db"])
    assert code == 2
    assert "rulebook test version 1: its sha256 0000000000000000… is not the" in output
    assert "its source text does not give its sha256" in output


def test_a_decision_under_an_unpublished_rulebook_is_named(world: dict[str, Any]) -> None:
    sql(world["svc"], "UPDATE sc_decisions SET sha256 = :s WHERE seq = 3", s="1" * 64)
    code, output, _ = verify(world["db"])
    assert code == 2
    assert "(seq 3) names rulebook test version 1 with sha256 1111111111111111…, which no " \
           "rulebook.published leaf carries" in output


def test_a_sealed_decision_marked_unsealed_and_a_forged_seal_are_named(
        world: dict[str, Any]) -> None:
    sql(world["svc"], "DELETE FROM sc_sealed_decisions WHERE seq = 1",
        "INSERT INTO sc_sealed_decisions (seq, sealed_at) VALUES (3, 0)")
    code, output, _ = verify(world["db"])
    assert code == 2
    assert "(seq 1), sealed in leaf" in output and "has lost its seal row" in output
    assert "(seq 3) is marked sealed but no decisions.batch leaf covers it" in output


def test_verify_still_names_log_damage(world: dict[str, Any]) -> None:
    sql(world["svc"], "UPDATE tlog_leaves SET data = :d WHERE idx = 0", d=b"{}")
    code, output, report = verify(world["db"])
    assert code == 2 and report["log"]["ok"] is False
    assert "leaf 0: its data does not hash" in output


def test_an_imported_ledger_verifies(world: dict[str, Any], tmp_path: Any,
                                      clock: Clock) -> None:
    world["svc"].population.export(tmp_path / "exp", buckets=2)
    with Service.create_empty(f"sqlite:///{tmp_path / 'copy.db'}", clock=clock) as copy:
        copy.population.import_(tmp_path / "exp")
        report = copy.log.verify_ledger()
        assert report.ok, [p.message for p in report.problems]
        assert report.records == 5 and report.providers == 3


# -- the canonical record hash -------------------------------------------------------------

def test_the_record_json_is_plain_canonical_json() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    text_ = st.text(max_size=30)
    opt = st.none() | text_
    instants = st.integers(-(2**62), 2**62)

    @settings(max_examples=300, deadline=None)
    @given(st.tuples(text_, text_, text_, text_, text_, instants, instants,
                     st.none() | st.floats(allow_nan=False, allow_infinity=False),
                     opt, opt, opt, st.none() | instants))
    def same(fields: tuple[Any, ...]) -> None:
        want = list(fields)
        if want[7] is not None:
            want[7] = want[7] + 0.0
        ingested = want.pop()
        array = [1, *want] if ingested is None else [2, *want, ingested]
        assert record_json(fields) == json.dumps(array, ensure_ascii=False,
                                                 separators=(",", ":"))

    same()
    assert record_json(("a", "p", "s", "t", "conduct", 1, 2, -0.0, None, None, None, None)) \
        == '[1,"a","p","s","t","conduct",1,2,0.0,null,null,null]'
    assert record_json(("a", "p", "s", "t", "conduct", 1, 2, None, None, None, None, 3)) \
        == '[2,"a","p","s","t","conduct",1,2,null,null,null,null,3]'
    with pytest.raises(TypeError):
        record_json(("a", "p", "s", "t", "conduct", "1", 2, None, None, None, None, None))
    with pytest.raises(TypeError):
        record_json(("a", "p", "s", "t", "conduct", 1, 2, None, None, None, None, "3"))


def test_record_hashes_in_bulk_are_record_hash_one_by_one() -> None:
    """Ingest's one-loop hashing gives each record's own hash, for every shape of row
    (version-1 and version-2 forms, integers where floats belong, minus zero, Unicode
    and escapes), and refuses what record_hash refuses."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    text_ = st.text(max_size=20)
    opt = st.none() | text_
    instants = st.integers(-(2**62), 2**62)
    nums = st.none() | st.floats(allow_nan=False, allow_infinity=False) | st.integers(
        -(2**40), 2**40)

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.tuples(text_, text_, text_, text_, text_, instants, instants, nums,
                              opt, opt, opt, st.none() | instants), max_size=8))
    def same(rows: list[tuple[Any, ...]]) -> None:
        assert record_hashes(rows) == [record_hash(r) for r in rows]

    same()
    assert record_hashes([("a", "p", "s", "t", "conduct", 1, 2, -0.0, "\u2028\"x", None,
                           "r", None)]) == [record_hash(
        ("a", "p", "s", "t", "conduct", 1, 2, -0.0, "\u2028\"x", None, "r", None))]
    for bad in (("a", "p", "s", "t", "conduct", "1", 2, None, None, None, None, None),
                ("a", "p", "s", "t", "conduct", 1, 2, None, 5, None, None, None),
                ("a", None, "s", "t", "conduct", 1, 2, None, None, None, None, None),
                ("a", "p", "s", "t", "conduct", 1, 2, "3", None, None, None, None)):
        with pytest.raises(TypeError):
            record_hashes([bad])


def test_a_backfilled_records_ingested_at_is_covered_by_its_hash(
        make_ledger: Callable[..., Service], clock: Clock, db_url: str) -> None:
    """Editing when a backfilled record was learned (which starts its notice) is named."""
    svc = make_ledger(RULEBOOK, PROVIDERS)
    clock.set("2026-01-05T00:00:00Z")
    svc.records.ingest_text(H + "court-1:b1,court-1,erin,person,ruling,2025-06-01,,urn:b1,\n",
                            backfill=True)
    assert verify(db_url)[0] == 0
    sql(svc, "UPDATE sc_records SET ingested_at = ingested_at - 2592000000000 "
             "WHERE record_id = 'court-1:b1'")
    code, output, _ = verify(db_url)
    assert code == 2
    assert "record 'court-1:b1' (seq 1, batch" in output


def test_the_fast_root_is_rfc_9162s() -> None:
    import hashlib

    for n in range(0, 70):
        hashes = [hashlib.sha256(bytes([i % 256, i // 256])).digest() for i in range(n)]
        assert merkle.mth(hashes) == merkle.reference_mth(hashes), n


# -- a ledger upgraded from 0.1.0: what verify can and cannot vouch for --------------------

def test_an_upgraded_0_1_0_ledger_says_what_it_cannot_vouch_for(db_url: str) -> None:
    """0.1.0 logged publications, listings and decision seals, but no record batches and
    no provider registrations. After `db upgrade` verify passes and says so; what the old
    leaves cover is still checked, what they never covered is not, and everything stored
    after the upgrade is covered in full."""
    from tests.service.test_migrations import build_0_1_0

    build_0_1_0(db_url)
    Service.upgrade(db_url)
    code, output, report = verify(db_url)
    assert code == 0, output
    notes = " ".join(report["ledger"]["notes"])
    assert "11 record(s) were stored before this ledger committed ingest batches" in notes
    assert "5 provider(s) were registered before this ledger logged registrations" in notes
    with Service.open(db_url) as svc:
        # not vouched for: a legacy record's value, a legacy provider's role
        sql(svc, "UPDATE sc_records SET evidence = 'urn:forged' WHERE record_id = "
                 "'court-01:2'",
            "UPDATE sc_providers SET role = 'court' WHERE provider = 'bank-01'")
        assert verify(db_url)[0] == 0
        # vouched for by the old leaves: records the listings name, sealed decisions
        sql(svc, "DELETE FROM sc_records WHERE record_id = 'court-01:1'",
            "UPDATE sc_decisions SET body = replace(body, '\"effect\": \"deny\"', "
            "'\"effect\": \"allow\"'), effect = 'allow' WHERE seq = 3")
        code, output, report = verify(db_url)
        assert code == 2
        assert "record 'court-01:1', named by leaf 2 (list.entry), is not in the ledger" in output
        assert "decisions.batch leaf 10 (program judgment-defaulters, 2 decisions): the " \
               "decisions stored there no longer give its digest" in output
        # and after the upgrade: a record inserted behind the log's back is named
        sql(svc, "INSERT INTO sc_records (record_id, provider, subject, type, kind, "
                 "occurred_at, recorded_at) VALUES ('court-1:forged', 'court-01', 'alice', "
                 "'court.refuses_to_perform', 'conduct', 0, 0)")
        assert "record 'court-1:forged' (seq 12) belongs to no ingest batch" in verify(db_url)[1]
