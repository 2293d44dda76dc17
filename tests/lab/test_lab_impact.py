"""diff-impact on a small real SQLite ledger: who changes tier, list or decision if V2
replaces V1, checked subject by subject against the reference engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from socialcredit.decisions import evaluate
from socialcredit.errors import RefusedRulebook
from socialcredit.lab.decide import EFFECTS
from socialcredit.rulebook import parse_rulebook
from socialcredit.rulebook.catalogue import parse_catalogue
from socialcredit.scoring import reference
from socialcredit.service import Service
from socialcredit.timeutil import parse_instant
from tests.lab.labkit import RULEBOOK

NOW = parse_instant("2027-06-01T00:00:00Z")

# A ledger publishes a rulebook only under a catalogue: the lab's rulebook, citing one
# whose items and measures allow exactly what it records and does.
CATALOGUE = """
catalogue: lab-catalogue
version: "l1"
items:
  - {id: finance, providers: [bank], subjects: [person], legal_basis: law}
  - {id: judicial, providers: [court], subjects: [person], publicity: public,
     legal_basis: law}
  - {id: civic, providers: [civil], subjects: [person], legal_basis: law}
  - {id: review, providers: [reviewer], subjects: [person], legal_basis: law}
measures:
  - {id: refusal, kind: sanction, legal_basis: law}
  - {id: perk, kind: benefit, legal_basis: law}
"""
CITED = {"arrears": "finance, resolved_by: [repaid]",
         "default": "judicial, resolved_by: [performed]", "volunteer": "civic",
         "repaid": "finance", "performed": "judicial", "void": "review"}


def catalogued(text: str) -> str:
    """`text` citing CATALOGUE: each record type its item (and the resolutions it admits),
    each consequence its measure."""
    for type_, item in CITED.items():
        head = f"  - {{id: {type_}, kind: "
        assert text.count(head) == 1, type_
        at = text.index(head)
        end = text.index("}\n", at)
        text = text[:end] + f", item: {item}" + text[end:]
    for effect, measure in (("effect: deny", "refusal"), ("effect: benefit", "perk")):
        text = text.replace(effect, f"{effect}, measure: {measure}")
    return text + 'catalogue: {id: lab-catalogue, version: "l1"}\n'


V1 = catalogued(RULEBOOK)
V2 = (V1.replace('version: "1"', 'version: "2"')
      .replace("points: -15, half_life: 60d", "points: -25, half_life: 60d")
      .replace("{id: B, min: 90}", "{id: B, min: 95}")
      .replace("enter_when: {score_below: 70}", "enter_when: {score_below: 75}"))


def small_ledger(tmp_path: Path) -> Service:
    rb = parse_rulebook(V1, "v1.yaml")
    clock = iter(range(NOW - 10**12, NOW, 10**6))
    svc = Service.create(rb, f"sqlite:///{tmp_path / 'l.db'}", clock=lambda: next(clock),
                         catalogue=parse_catalogue(CATALOGUE, "lab-catalogue.yaml"))
    for p, role in (("bank-1", "bank"), ("court-1", "court"), ("rev-1", "reviewer"),
                    ("civ-1", "civil")):
        svc.providers.add(p, role)
    rows = ["record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref"]
    for i in range(40):
        s = f"p{i:02d}"
        kind = "person"
        for j in range(i % 6):
            rows.append(f"bank-1:a{i}-{j},bank-1,{s},{kind},arrears,2027-0{1 + j % 5}-1{j},,ev,")
            kind = ""
        if i % 7 == 3:
            rows.append(f"court-1:d{i},court-1,{s},{kind or ''},default,2027-02-01,,ev,")
            kind = ""
        if i % 9 == 0:
            rows.append(f"civ-1:v{i},civ-1,{s},{kind},volunteer,2027-03-01,12,,")
            kind = ""
        if i % 11 == 5:
            rows.append(f"bank-1:r{i},bank-1,{s},,repaid,2027-04-01,,ev,bank-1:a{i}-0")
    svc.records.ingest_text("\n".join(rows) + "\n")
    return svc


def test_diff_impact_matches_the_reference_engine(tmp_path: Path) -> None:
    svc = small_ledger(tmp_path)
    v2 = tmp_path / "v2.yaml"
    v2.write_text(V2)
    rep = svc.impact.diff("labtest", str(v2), at=NOW, examples=5)
    rb1 = svc.ledger.version_in_force("labtest", NOW, NOW).rulebook
    rb2 = parse_rulebook(V2, "v2.yaml")
    tiers = changed = 0
    entered: dict[str, int] = {}
    moves: dict[str, int] = {}
    for subject, kind in svc.ledger.all_subjects(NOW):
        recs = svc.ledger.records_of(subject)
        a = reference.standing(rb1, subject, kind, recs, NOW, NOW)
        b = reference.standing(rb2, subject, kind, recs, NOW, NOW)
        moved = a.tier != b.tier or a.lists != b.lists
        tiers += a.tier != b.tier
        for x in set(b.lists) - set(a.lists):
            entered[x] = entered.get(x, 0) + 1
        for action in ("loan", "travel", "bike", "job"):
            e1, e2 = evaluate(rb1, a, action)[0], evaluate(rb2, b, action)[0]
            if e1 != e2:
                moved = True
                moves[action] = moves.get(action, 0) + 1
        changed += moved
    d = rep.as_dict()
    known = svc.ledger.all_subjects(NOW)
    assert d["subjects"] == len(known) > 30
    assert d["tier"]["changed"] == tiers and tiers > 0
    assert d["changed"] == changed
    assert {x: v["entered"] for x, v in d["lists"].items() if v["entered"]} == entered
    assert {a: v["changed"] for a, v in d["decisions"].items() if v["changed"]} == moves
    assert sum(sum(r) for r in d["tier"]["transitions"]) == len(known)
    assert len(d["examples"]) == min(5, changed)
    assert d["tier"]["up"] is not None and d["tier"]["up"] + d["tier"]["down"] == tiers
    assert all(k.split("->")[0] in EFFECTS for v in d["decisions"].values() for k in v
               if k != "changed")


def test_versions_by_name_and_refusal(tmp_path: Path) -> None:
    svc = small_ledger(tmp_path)
    rb2 = parse_rulebook(V2, "v2.yaml")
    svc.programs.publish(rb2, effective=NOW + 10**15)  # published, not yet in force
    rep = svc.impact.diff("labtest@1", "labtest@2", at=NOW)
    assert rep.v2["version"] == "2" and rep.tier_changed > 0
    same = svc.impact.diff("labtest", "labtest@1", at=NOW)
    assert same.changed == 0 and same.tier_changed == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(V2.replace("notice: 10d", "notice: 0d"))
    with pytest.raises(RefusedRulebook):
        svc.impact.diff("labtest", str(bad), at=NOW)
    studied = svc.impact.diff("labtest", str(bad), at=NOW, study=True)
    assert studied.as_dict()["study_only"]["violations"]
