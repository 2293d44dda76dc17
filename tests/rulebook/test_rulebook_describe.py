"""`rulebook show`: every shipped rulebook in plain words, never a `None`, the refused one
described with its refusal first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.rulebook import baseline_violations, parse_rulebook
from socialcredit.rulebook.describe import days, describe_data, describe_rulebook, num
from socialcredit.rulebook.shipped import load_named, shipped_names
from tests.helpers import BASE

SHIPPED = shipped_names()


def _nulls(node: Any) -> int:
    if node is None:
        return 1
    if isinstance(node, dict):
        return sum(_nulls(v) for v in node.values())
    if isinstance(node, list):
        return sum(_nulls(v) for v in node)
    return 0


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_every_shipped_rulebook_is_described(name: str, fmt: str) -> None:
    rb = load_named(name)
    out = describe_rulebook(rb, fmt)  # type: ignore[arg-type]
    assert "None" not in out and "null" not in out
    assert (rb.title or rb.rulebook) in out and rb.version in out
    for t in rb.record_types:
        assert t.id in out and (t.label or t.id) in out
    for x in rb.lists:
        assert x.id in out
    for c in rb.consequences:
        assert c.action in out and (c.label or c.action) in out
    for d in rb.dimensions:
        assert d.id in out
    refused = bool(baseline_violations(rb))
    assert ("THE ENGINE REFUSES TO OPERATE THIS RULEBOOK" in out) is refused
    assert ("The engine may operate it" in out) is not refused
    if fmt == "text":
        assert all(len(line) <= 88 or " " not in line.strip() for line in out.splitlines())
    else:
        assert out.startswith(f"# {rb.title or rb.rulebook}\n")


@pytest.mark.parametrize("name", SHIPPED)
def test_json_description_has_no_nulls_and_every_item(name: str) -> None:
    rb = load_named(name)
    data = describe_data(rb)
    assert _nulls(data) == 0
    assert json.loads(json.dumps(data)) == data
    assert (data["program"], data["version"], data["sha256"]) == (rb.rulebook, rb.version,
                                                                  rb.sha256)
    ids = {i["id"] for s in data["sections"] for i in s["items"]}
    assert {t.id for t in rb.record_types} <= ids
    assert {x.id for x in rb.lists} <= ids
    assert {f"consequences[{i}]" for i in range(len(rb.consequences))} <= ids
    assert data["operable"] is not bool(baseline_violations(rb))


def test_media_reported_is_described_and_refused() -> None:
    rb = load_named("media-reported")
    violations = baseline_violations(rb)
    assert violations
    out = describe_rulebook(rb)
    lines = sorted({v.line for v in violations})
    assert len(lines) == 5
    assert (f"THE ENGINE REFUSES TO OPERATE THIS RULEBOOK: {len(violations)} place(s) in it "
            f"cross 5 of the lines the system does not cross") in " ".join(out.split())
    head = out.split("THE SCORE")[0]
    assert all(line in " ".join(head.split()) for line in lines)
    for v in violations:  # the refusal comes first, each line with its place in the file
        assert f"{v.path} (rulebooks/media-reported.yaml:{v.source_line}): [{v.line}]" in \
            " ".join(head.split())
    assert "it never expires" in out
    assert ("It reaches the subject's relatives — a line this system does not cross: the "
            "engine refuses it.") in " ".join(out.split())
    assert "It takes effect at once, without notice — for a blacklist" in " ".join(
        out.split())
    data = describe_data(rb)
    assert data["operable"] is False and len(data["refusals"]) == len(violations)


def flat(name: str) -> str:
    return " ".join(describe_rulebook(load_named(name)).split())


def test_rongcheng_sentences() -> None:
    out = flat("rongcheng")
    assert ("Bank loan arrears (per monthly cycle) (finance.bank_arrears) Conduct about "
            "financial obligation (context: finance). Severity: general. Reported by: bank; "
            "evidence required.") in out
    assert ("It costs 10 points in Commercial and financial honesty (commercial), halving "
            "every 90 days; it counts for 1 year from when it happened; only the 12 most "
            "recent count. Once resolved (a resolution record referring to it, e.g. Arrears "
            "repaid (finance.arrears_repaid)), it costs 5 points.") in out
    assert "halving every year; it counts for 3 years" in out
    assert "Resolving it does not change its points." in out
    assert "it no longer counts" in out  # court.unpaid_debt: resolved_points 0
    assert "It earns 30 points in Civic contribution (civic), halving every 2 years" in out
    assert "It earns 0.5 points per unit of its value" in out
    assert "Everyone starts at 1,000 points. The score stays between 0 and 1,200." in out
    assert "Tiers, highest first: AAA from 1,050; AA from 1,030;" in out
    assert ("below 12: 0 points; from 12 to below 36: 5 points; any other value: 10 "
            "points. With no value, or one older than 1 year: 0 points.") in out
    assert ("One enters when the score falls below 600 and stays below it for the whole "
            "notice period. Notice: 30 days. The subject is notified when the score falls "
            "below") in out
    assert "It ends as soon as the score is back at 600 or more." in out
    assert ("bank.loan: denied while on the list D grade (seriously untrustworthy) "
            "(rongcheng_d_grade). Enforced by rural_commercial_bank (context: finance).") in out
    assert "rental.bike: granted at tier A or above. It gives: deposit waived: yes." in out


def test_judgment_defaulters_sentences() -> None:
    out = flat("judgment-defaulters")
    assert "It keeps no score: it is a list." in out and "THE SCORE" not in out
    assert "It applies to persons and organizations." in out
    assert "Blacklist; public: listings are published." in out
    assert ("It ends after at most 2 years — earlier when the record is resolved (a "
            "resolution record referring to it, e.g. Judgment performed or debt paid "
            "(court.judgment_performed)) or withdrawn on review.") in out
    assert "Enforced by civil_aviation (context: transport)." in out
    assert ("rail.g_train_ticket: allowed while not on the list Dishonest judgment "
            "defaulters") in out


def test_sesame_and_fico_sentences() -> None:
    sesame = flat("sesame")
    assert "hotel.deposit: granted with a score of 600 or more." in sesame
    assert "which never counts less than 0 points and adds at most 40 points" in sesame
    assert "“verified”: 40 points; any other value: 0 points" in sesame
    fico = flat("fico-like")
    assert "lender.credit_card: denied with a score below 580." in fico
    assert "Once resolved (a resolution record referring to it, e.g. Bankruptcy " \
           "discharged (credit.bankruptcy_discharged)), it costs 100 points." in fico
    assert "it counts for 10 years from when it happened" in fico


def test_a_rulebook_without_review_says_so() -> None:
    rb = parse_rulebook(BASE.replace("  - {id: void, kind: void, providers: [reviewer], "
                                     "evidence: required, item: review}\n", ""))
    out = " ".join(describe_rulebook(rb).split())
    assert "No withdrawal type is declared: a record found wrong cannot be withdrawn" in out
    assert "or withdrawn on review" not in out
    with pytest.raises(ValueError, match="unknown format"):
        describe_rulebook(rb, "html")  # type: ignore[arg-type]


def test_words_for_numbers_and_durations() -> None:
    assert (num(1000), num(0.5), num(-10.0), num(1234.25)) == ("1,000", "0.5", "-10",
                                                              "1,234.25")
    assert (days(365), days(1095), days(90), days(1), days(1.5)) == (
        "1 year", "3 years", "90 days", "1 day", "1.5 days")


# -- the command ---------------------------------------------------------------------------

def _app() -> typer.Typer:
    return app


def test_show_command(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(_app(), ["rulebook", "show", "platform"])
    assert r.exit_code == 0 and r.output == describe_rulebook(load_named("platform"))
    r = runner.invoke(_app(), ["rulebook", "show", "platform", "--markdown"])
    assert r.exit_code == 0 and r.output.startswith("# Rider ratings")
    r = runner.invoke(_app(), ["rulebook", "show", "media-reported", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["operable"] is False
    f = tmp_path / "mine.yaml"
    f.write_text(BASE, encoding="utf-8")
    r = runner.invoke(_app(), ["rulebook", "show", str(f)])
    assert r.exit_code == 0 and "Program test, version 1" in r.output


def test_show_command_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(_app(), ["rulebook", "show", "nosuch"])
    assert r.exit_code == 1 and "nosuch: no such rulebook file, nor a shipped" in r.output
    assert "sesame" in r.output  # the names it would have taken
    r = runner.invoke(_app(), ["rulebook", "show", "sesame", "--json", "--markdown"])
    assert r.exit_code == 64 and "choose one of --markdown and --json" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("points: -10, half_life", "pointz: -10, half_life"),
                   encoding="utf-8")
    r = runner.invoke(_app(), ["rulebook", "show", str(bad)])
    assert r.exit_code == 1 and "unknown key 'pointz'" in r.output
