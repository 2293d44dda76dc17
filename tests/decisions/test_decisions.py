"""Decisions: deny beats benefit beats allow; reasons; the decision log."""

from __future__ import annotations

import json

from sqlalchemy import select

from socialcredit.ledger import schema
from socialcredit.rulebook import parse_rulebook
from socialcredit.timeutil import US_PER_DAY, parse_instant
from tests.helpers import BASE

PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}
H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"


def test_benefits_merge_and_deny_wins(make_ledger, clock):
    clock.set("2026-01-01T00:00:00Z")
    svc = make_ledger(BASE, PROVIDERS)
    svc.records.ingest_text(H + "bank-1:b1,bank-1,alice,person,bonus,2025-12-01,,,\n"
                            "court-1:c1,court-1,alice,,ruling,2025-12-01,,e,\n"
                            "bank-1:x1,bank-1,bob,person,arrears,2025-12-01,,e,\n")
    now = svc.now()  # the ledger's clock: a microsecond past the ingest's stamp
    d = svc.decisions.decide("alice", "bike", at=now)
    assert d.effect == "benefit"
    assert d.grant == {"deposit_waived": True, "helmet": "free"}
    assert [r["consequence"] for r in d.reasons if r["applies"]] == [1, 2]

    assert svc.decisions.decide("alice", "train", at=now).effect == "allow"  # inside the notice
    later = now + 11 * US_PER_DAY
    d = svc.decisions.decide("alice", "train", at=later)
    assert d.effect == "deny"
    cond = d.reasons[0]["conditions"][0]
    assert cond["condition"] == "on_list" and cond["holds"] and cond["records"] == ["court-1:c1"]

    d = svc.decisions.decide("bob", "bike", at=now)
    assert d.effect == "allow" and d.grant == {}
    d = svc.decisions.decide("bob", "loan", at=now)  # score 987 is not below 960
    assert d.effect == "allow"


def test_score_below_and_not_on_list(make_ledger, clock):
    svc = make_ledger(BASE, PROVIDERS)
    svc.records.ingest_text(H + "".join(f"bank-1:a{i},bank-1,carol,{'person' if i == 0 else ''},"
                                        f"arrears,"
                                    f"2025-12-31,,e,\n" for i in range(3))
                + "bank-1:f1,bank-1,carol,,history,2025-12-31,1,e,\n")
    d = svc.decisions.decide("carol", "loan", at=svc.now())
    # 1000 - 30 (three arrears) - 20 (short history) = 950 < 960
    assert d.standing.score < 960
    assert d.effect == "deny"
    reason = d.reasons[0]
    assert {c["condition"] for c in reason["conditions"]} == {"score_below", "not_on_list"}
    by_name = {c["condition"]: c for c in reason["conditions"]}
    # the key records
    assert set(by_name["score_below"]["records"]) >= {"bank-1:a0", "bank-1:a1", "bank-1:a2"}


def test_unknown_action_is_allowed_with_a_reason(make_ledger, clock):
    svc = make_ledger(BASE, PROVIDERS)
    d = svc.decisions.decide("nobody", "fly", at=svc.now())
    assert d.effect == "allow"
    assert "declares no consequence" in d.reasons[0]["label"]


def test_decision_log_records_id_sha_and_reasons(make_ledger, clock):
    svc = make_ledger(BASE, PROVIDERS)
    svc.records.ingest_text(H + "bank-1:b1,bank-1,alice,person,bonus,2025-12-01,,,\n")
    d = svc.decisions.decide("alice", "bike", at=svc.now())
    with svc.ledger.engine.connect() as conn:
        row = conn.execute(select(schema.decisions)).mappings().one()
    assert row["decision_id"] == d.decision_id
    assert row["sha256"] == parse_rulebook(BASE).sha256
    assert row["effect"] == "benefit"
    body = json.loads(row["body"])
    assert body["reasons"] == d.reasons and body["subject"] == "alice"
    assert svc.decisions.log("alice")[0]["decision_id"] == d.decision_id
    assert svc.decisions.log("bob") == []


def test_past_decision_reproduces(make_ledger, clock):
    clock.set("2026-01-01T00:00:00Z")
    svc = make_ledger(BASE, PROVIDERS)
    svc.records.ingest_text(H + "court-1:c1,court-1,dave,person,ruling,2025-12-01,,e,\n")
    at = parse_instant("2026-01-20")
    first = svc.decisions.decide("dave", "train", at=at)
    clock.set("2026-01-15T00:00:00Z")
    svc.records.ingest_text(H + "court-1:r1,court-1,dave,,paid,2026-01-14,,e,court-1:c1\n")
    again = svc.decisions.decide("dave", "train", at=at)
    # known_at defaults to the earlier of at and the last committed transaction time:
    # the resolution recorded on Jan 15 is known at Jan 20
    assert first.effect == "deny" and again.effect == "allow"
    first_again = svc.decisions.decide("dave", "train", at=parse_instant("2026-01-14T12:00:00Z"))
    assert first_again.effect == "deny"
