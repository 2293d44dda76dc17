"""Catalogues: what may be recorded and what may be done is an allowlist (issue 9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from socialcredit.errors import RefusedRulebook, RulebookError
from socialcredit.rulebook import parse_rulebook
from socialcredit.rulebook.catalogue import (
    citation_violations,
    enforce_catalogue,
    lexicon_violations,
    parse_catalogue,
)
from socialcredit.rulebook.lexicon import protected_categories
from socialcredit.rulebook.schema import catalogue_json_schema, schema_text
from socialcredit.rulebook.shipped import (
    load_catalogue_named,
    load_named,
    shipped_catalogue_names,
    shipped_names,
)
from socialcredit.service import Service
from tests.conftest import ROOT
from tests.helpers import BASE, TEST_CATALOGUE, catalogue_for_tests

SCHEMA_FILE = ROOT / "docs" / "schema" / "catalogue.schema.json"
CATALOGUE_DOC = ROOT / "docs" / "catalogues.md"


def cat(**replace: str) -> Any:
    text = TEST_CATALOGUE
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return parse_catalogue(text, "cat.yaml")


def why(rb_text: str, catalogue: Any = None) -> list[str]:
    rb = parse_rulebook(rb_text, "rb.yaml")
    return [v.why for v in citation_violations(rb, catalogue or catalogue_for_tests())]


# -- the shipped catalogues ---------------------------------------------------------------------

def test_shipped_catalogues_pass_the_lexicon_and_the_schema() -> None:
    assert shipped_catalogue_names() == ["cn-public-credit", "consumer-credit", "platform-terms"]
    for name in shipped_catalogue_names():
        c = load_catalogue_named(name)
        assert lexicon_violations(c) == [], name
        data = yaml.safe_load((ROOT / "catalogues" / f"{name}.yaml").read_text("utf-8"))
        jsonschema.validate(data, catalogue_json_schema())
        assert all(i.legal_basis.strip() for i in c.items)
        assert all(m.legal_basis.strip() for m in c.measures)


@pytest.mark.parametrize("name", [n for n in shipped_names() if n != "media-reported"])
def test_every_shipped_rulebook_cites_its_catalogue(name: str) -> None:
    rb = load_named(name)
    assert rb.catalogue is not None
    c = load_catalogue_named(rb.catalogue.id)
    assert c.version == rb.catalogue.version
    assert citation_violations(rb, c) == []
    assert all(t.item for t in rb.record_types)
    assert all(x.measure for x in rb.consequences if x.effect != "allow")


def test_the_committed_schema_is_current_and_documented() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text("catalogue"), (
        "run python -m socialcredit.rulebook.schema --catalogue --out "
        "docs/schema/catalogue.schema.json")
    doc = CATALOGUE_DOC.read_text(encoding="utf-8")
    for model in ("Catalogue", "Item", "Measure"):
        for key in json.loads(SCHEMA_FILE.read_text("utf-8"))["$defs"].get(
                model, {}).get("properties", {}):
            assert f"`{key}`" in doc, (model, key)
    for name in shipped_catalogue_names():
        assert name in doc


# -- loading ------------------------------------------------------------------------------------

def test_errors_name_the_line() -> None:
    with pytest.raises(RulebookError) as exc:
        parse_catalogue(TEST_CATALOGUE.replace("legal_basis: law}\n  - {id: judicial",
                                               "legal_basis: law, provider: x}\n"
                                               "  - {id: judicial"), "cat.yaml")
    assert exc.value.code == "catalogue.invalid"
    assert "cat.yaml:5: items[0]: unknown key 'provider' — did you mean 'providers'?" in str(
        exc.value)
    with pytest.raises(RulebookError, match="declared twice"):
        cat(**{"{id: judicial,": "{id: finance,"})
    with pytest.raises(RulebookError, match="legal basis is required"):
        cat(**{"{id: civic, providers: [bank], legal_basis: law}":
               "{id: civic, providers: [bank], legal_basis: ' '}"})


# -- the lexicon on catalogues -------------------------------------------------------------------

@pytest.mark.parametrize(("item", "category"), [
    ("{id: mosque.attendance, label: Mosque attendance", "religion or belief"),
    ("{id: conduct.weibo, label: Critical posts on Weibo", "online speech and posts"),
    ("{id: xinfang, label: 上访记录", "petitioning"),
    ("{id: labour, label: Union activity at the workplace", "trade-union membership"),
    ("{id: street, label: Attending protests", "assembly or protest"),
    ("{id: clinic, label: 病史", "health"),
    ("{id: origin, label: Ethnicity of the applicant", "racial or ethnic origin"),
    ("{id: home, label: Marital status and children", "family or marital status"),
])
def test_the_engine_refuses_a_catalogue_item_the_lexicon_flags(item: str,
                                                                category: str) -> None:
    c = cat(**{"{id: civic": f"{item}, providers: [bank], legal_basis: law}}\n  - {{id: civic"})
    found = lexicon_violations(c)
    assert found and category in found[0].why
    with pytest.raises(RefusedRulebook) as exc:
        enforce_catalogue(c)
    assert exc.value.code == "catalogue.refused"


def test_measures_are_checked_too() -> None:
    c = cat(**{"{id: perk, kind: benefit, legal_basis: law}":
               "{id: perk, kind: benefit, legal_basis: law}\n"
               "  - {id: pray, kind: benefit, label: Priority for regular worshippers, "
               "legal_basis: law}"})
    assert [v.path for v in lexicon_violations(c)] == ["measures[2]"]


def test_ordinary_finance_is_not_flagged() -> None:
    for text in ("Financial health of the borrower", "Acted in good faith",
                 "European Union directive", "Credit union loan", "Child support arrears",
                 "Post office box", "Court judgment"):
        assert protected_categories(text) == [], text


# -- citations ----------------------------------------------------------------------------------

def test_the_test_rulebook_cites_everything() -> None:
    assert why(BASE) == []


@pytest.mark.parametrize(("old", "new", "message"), [
    ('catalogue: {id: test-catalogue, version: "t1"}\n', "", "cites no catalogue"),
    ("     context: civic, item: civic}\n  - {id: hours", "     context: civic}\n  - {id: hours",
     "'bonus' cites no item"),
    ("item: judicial,", "item: nowhere,", "cites item 'nowhere', which"),
    ("{id: bonus, kind: conduct, providers: [bank]", "{id: bonus, kind: conduct, "
     "providers: [bank, court]", "lets court provide item 'civic'"),
    ("subjects: [person]", "subjects: [person, organization]", None),
    ("when: {on_list: defaulters},\n     measure: ban}", "when: {on_list: defaulters}}",
     "cites no measure"),
    ("when: {tier_at_least: A}, measure: perk}", "when: {tier_at_least: A}, measure: ban}",
     "a benefit needs a benefit"),
    ("when: {tier_at_least: A}, measure: perk}", "when: {tier_at_least: A}, measure: zzz}",
     "cites measure 'zzz', which"),
])
def test_going_beyond_the_catalogue_is_refused(old: str, new: str,
                                               message: str | None) -> None:
    assert old in BASE, old
    found = why(BASE.replace(old, new))
    if message is None:  # items default to both subject kinds: still fine
        assert found == []
    else:
        assert any(message in w for w in found), found


def test_bounds_of_items_and_measures() -> None:
    bounded = cat(**{"{id: judicial, providers: [court], publicity: public, legal_basis: law}":
                     "{id: judicial, providers: [court], publicity: restricted, "
                     "max_validity: 30d, legal_basis: law}",
                     "{id: ban, kind: sanction, legal_basis: law}":
                     "{id: ban, kind: sanction, max_duration: 50d, legal_basis: law}"})
    public = BASE.replace("    max_duration: 100d\n", "    max_duration: 100d\n    public: true\n")
    found = why(public, bounded)
    assert any("list 'defaulters' lasts 100 days; item 'judicial' may count for at most 30"
               in w for w in found), found
    assert any("is public but item 'judicial' is restricted" in w for w in found)
    assert any("list 'defaulters' lasts 100 days; measure 'ban' may last at most 50" in w
               for w in found)


def test_a_ledger_publishes_the_catalogue_with_the_rulebook_and_logs_it(db_url: str) -> None:
    with Service.create(load_named("judgment-defaulters"), db_url) as svc:
        listed = svc.catalogues.list()
        assert [(c["catalogue"], c["version"]) for c in listed] == [("cn-public-credit", "2024")]
        kinds = [json.loads(d)["kind"] for _, d, _ in svc.log.leaves()]
        assert kinds[:2] == ["catalogue.published", "rulebook.published"]
        other = load_catalogue_named("cn-public-credit")
        changed = parse_catalogue(Path(ROOT / "catalogues" / "cn-public-credit.yaml").read_text(
            "utf-8").replace("max_validity: 5y", "max_validity: 4y"), "changed.yaml")
        assert svc.catalogues.publish(other) is False  # the same: a no-op
        with pytest.raises(Exception) as exc:
            svc.catalogues.publish(changed)
        assert getattr(exc.value, "code", None) == "catalogue.conflict"


def test_a_stored_catalogue_that_now_flags_stops_operation(db_url: str, clock: Any) -> None:
    """If a published catalogue is found to allow a protected category (say the lexicon
    grew), ingest and decisions under rulebooks citing it are refused."""
    from sqlalchemy import update

    from socialcredit.ledger import schema

    svc = Service.create(parse_rulebook(BASE), db_url, clock=clock,
                         catalogue=catalogue_for_tests())
    bad = cat(**{"{id: civic, providers: [bank]": "{id: civic, label: Mosque visits, "
                                                  "providers: [bank]"})
    with svc.ledger.engine.begin() as conn:
        conn.execute(update(schema.catalogues).values(canonical=bad.canonical(),
                                                      sha256=bad.sha256))
    url = svc.ledger.url
    svc.close()
    with Service.open(url, clock=clock) as again, pytest.raises(RefusedRulebook):
        again.decisions.decide("alice", "bike")
