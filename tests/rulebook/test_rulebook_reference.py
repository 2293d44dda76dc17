"""docs/rulebook.md and the JSON Schema: generated from the models, current, and every
example in them real."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel, TypeAdapter

from socialcredit.errors import RulebookError
from socialcredit.lint import lint
from socialcredit.rulebook import baseline_violations, parse_rulebook, reference, schema
from socialcredit.rulebook.catalogue import Catalogue, lexicon_violations, parse_catalogue
from socialcredit.rulebook.model import Rulebook
from socialcredit.rulebook.reference import (
    DOC_KEYS,
    blocks,
    model_classes,
    problems,
    refresh,
    undescribed,
)
from socialcredit.rulebook.schema import catalogue_json_schema, rulebook_json_schema, schema_text
from tests.conftest import ROOT, RULEBOOKS
from tests.docblocks import block_after, fenced, json_objects, run_shell

DOC = ROOT / "docs" / "rulebook.md"
SCHEMA_FILE = ROOT / "docs" / "schema" / "rulebook.schema.json"
SHIPPED = sorted(p.stem for p in RULEBOOKS.glob("*.yaml"))


def doc() -> str:
    return DOC.read_text(encoding="utf-8")


# -- the generated reference ---------------------------------------------------------------

def test_every_model_field_has_a_description() -> None:
    assert undescribed() == []
    assert len(model_classes()) >= 12  # Rulebook and every model it contains


def test_reference_tables_are_current() -> None:
    assert problems(doc()) == []


def test_every_key_appears_in_the_reference() -> None:
    text, tables = doc(), blocks()
    for name, model in model_classes().items():
        for key in model.model_fields:
            table = tables["documentation-keys" if key in DOC_KEYS else name]
            assert f"| `{key}` |" in table, (name, key)
        assert tables[name] in text


def test_check_finds_stale_missing_and_undescribed(monkeypatch: pytest.MonkeyPatch) -> None:
    text = doc()
    stale = text.replace("| `max_count` | integer, ≥ 1 |", "| `max_count` | integer |")
    assert stale != text
    assert any("Rule table is stale" in p for p in problems(stale))
    start = text.index("<!-- BEGIN GENERATED reference:Tier -->")
    end = text.index("<!-- END GENERATED reference:Tier -->") + len(
        "<!-- END GENERATED reference:Tier -->")
    missing = text[:start] + text[end:]
    assert any("no generated block for Tier" in p for p in problems(missing))
    # --write puts the missing table back (at the end, asking for prose) and fixes stale ones
    fixed = refresh(missing.replace("| `max_count` | integer, ≥ 1 |", "| `max_count` | x |"))
    assert problems(fixed) == [] and "## Not yet described" in fixed
    # a field without a description fails the check
    field = Rulebook.model_fields["title"]
    monkeypatch.setattr(field, "description", None)
    assert "Rulebook.title: no description (add Field(description=...))" in problems(text)


def test_reference_module_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    copy = tmp_path / "rulebook.md"
    copy.write_text(doc(), encoding="utf-8")
    assert reference.main(["--check", str(copy)]) == 0
    copy.write_text(doc().replace("| `notice` |", "| `notice ` |"), encoding="utf-8")
    assert reference.main(["--check", str(copy)]) == 1
    assert "ListDef table is stale" in capsys.readouterr().err
    assert reference.main(["--write", str(copy)]) == 0
    assert copy.read_text(encoding="utf-8") == doc()
    assert reference.main([]) == 0
    assert "<!-- BEGIN GENERATED reference:Rule -->" in capsys.readouterr().out


# -- examples ----------------------------------------------------------------------------------

def _yaml_blocks() -> list[str]:
    return fenced(doc(), "yaml")


def _catalogue() -> Catalogue:
    """The city pilot's catalogue, as the page gives it."""
    text = next(b for b in _yaml_blocks() if yaml.safe_load(b).get("items"))
    return parse_catalogue(text, "city-catalogue.yaml")


@pytest.mark.parametrize("index", range(len(fenced(DOC.read_text(encoding="utf-8"), "yaml"))))
def test_yaml_example_is_valid(index: int) -> None:
    """A whole rulebook loads, passes the baseline and lints without errors; a fragment
    (some top-level keys) validates key by key against the model."""
    text = _yaml_blocks()[index]
    data = yaml.safe_load(text)
    assert isinstance(data, dict) and data
    if "items" in data or "measures" in data:  # the catalogue the city pilot cites
        cat = parse_catalogue(text, f"docs/rulebook.md#yaml{index}")
        assert lexicon_violations(cat) == []
        jsonschema.validate(data, catalogue_json_schema())
        return
    if "rulebook" in data:
        rb = parse_rulebook(text, f"docs/rulebook.md#yaml{index}")
        assert baseline_violations(rb) == []
        report = lint(rb, None, _catalogue())
        assert report.count("error") == 0, [f.render("") for f in report.findings]
        jsonschema.validate(data, rulebook_json_schema())
        return
    for key, value in data.items():
        assert key in Rulebook.model_fields, key
        TypeAdapter(Rulebook.model_fields[key].annotation).validate_python(value)


def test_the_docs_hold_a_whole_rulebook_and_fragments() -> None:
    kinds = ["rulebook" in yaml.safe_load(b) for b in _yaml_blocks()]
    assert kinds.count(True) >= 1 and kinds.count(False) >= 9  # fragments and a catalogue


def _examples() -> list[tuple[str, str, Any]]:
    out = []
    for name, model in model_classes().items():
        for key, field in model.model_fields.items():
            for ex in field.examples or ():
                out.append((name, key, ex))
    return out


@pytest.mark.parametrize(("model", "key", "example"), _examples(),
                         ids=[f"{m}.{k}" for m, k, _ in _examples()])
def test_field_example_validates(model: str, key: str, example: Any) -> None:
    """The example column of the tables: each value is valid for its key."""
    field = model_classes()[model].model_fields[key]
    TypeAdapter(Annotated[field.annotation, field]).validate_python(example)


def test_examples_cover_most_keys() -> None:
    keys = [(n, k) for n, m in model_classes().items() for k in m.model_fields]
    assert len(_examples()) >= len(keys) - 6  # only the lists of whole items go without


def test_error_examples_are_what_the_loader_says() -> None:
    text = doc()
    pilot = _yaml_blocks()[0]
    typos = [("{record: transit.fare_evasion, dimension: fares, points: -10,",
              "{record: transit.fare_evasion, dimension: fares, point_per_unit: -10,"),
             ("    kind: black\n    label: Borrowing", "    kind: blakc\n    label: Borrowing"),
             ("{record: transit.pass_purchased, dimension: loyalty",
              "{record: transit.pass, dimension: loyalty")]
    shown = block_after(text, "## Checking a rulebook", "text")
    for old, new in typos:
        assert old in pilot
        with pytest.raises(RulebookError) as exc:
            parse_rulebook(pilot.replace(old, new), "city-pilot.yaml")
        message = str(exc.value).splitlines()[1].strip()
        assert message in shown, message


def test_city_pilot_walkthrough_runs(tmp_path: Path) -> None:
    (tmp_path / "city-pilot.yaml").write_text(_yaml_blocks()[0], encoding="utf-8")
    (tmp_path / "city-catalogue.yaml").write_text(_yaml_blocks()[1], encoding="utf-8")
    p = run_shell(block_after(doc(), "### Try it"), tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "0 error(s), 0 warning(s), 2 info" in p.stdout
    assert "score 88.00  tier fair" in p.stdout
    assert "notice: list library_suspension takes effect" in p.stdout
    assert "ALLOW library.borrow for rider-7" in p.stdout
    assert "BENEFIT transit.monthly_pass for rider-9" in p.stdout and "discount_pct" in p.stdout
    in30, in120 = json_objects(p.stdout)
    assert in30["projection"] is True and in30["lists"] == ["library_suspension"]
    assert (in120["score"], in120["tier"], in120["lists"]) == (100.0, "good", [])
    schema = json.loads((tmp_path / "rulebook.schema.json").read_text(encoding="utf-8"))
    assert schema == rulebook_json_schema()
    schema = json.loads((tmp_path / "catalogue.schema.json").read_text(encoding="utf-8"))
    assert schema == catalogue_json_schema()


# -- the JSON Schema -----------------------------------------------------------------------

def test_committed_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "run python -m socialcredit.rulebook.schema --out docs/schema/rulebook.schema.json")


def _objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if "properties" in node else []
        return found + [o for v in node.values() for o in _objects(v)]
    if isinstance(node, list):
        return [o for x in node for o in _objects(x)]
    return []


def test_schema_is_valid_strict_and_described() -> None:
    schema = rulebook_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    objects = _objects(schema)
    assert len(objects) == len(model_classes()) - 1 + 1  # every model but _Model, + root
    for obj in objects:
        assert obj["additionalProperties"] is False
        for key, prop in obj["properties"].items():
            assert prop.get("description"), key
    duration = schema["$defs"]["Duration"]
    assert "<n>d, <n>w (7 days), <n>y (365 days), or a number of days" in duration[
        "description"]
    text = json.dumps(schema)
    assert '"gt"' not in text and "x-socialcredit" not in text


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_rulebook_validates_against_the_schema(name: str) -> None:
    data = yaml.safe_load((RULEBOOKS / f"{name}.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


@pytest.mark.parametrize(("path", "value", "message"), [
    (("rules", 0, "expire"), "1y", "'expire' was unexpected"),
    (("rules", 0, "expires"), "soon", "is not valid under any of the given schemas"),
    (("rules", 0, "expires"), 0, "is not valid under any of the given schemas"),
    (("lists", 0, "kind"), "grey", "is not one of ['black', 'red']"),
    (("subjects",), ["alien"], "is not one of ['person', 'organization']"),
    (("scale", "bas"), 1, "'bas' was unexpected"),
])
def test_schema_rejects_what_the_loader_rejects(path: tuple[Any, ...], value: Any,
                                                message: str) -> None:
    data = yaml.safe_load((RULEBOOKS / "rongcheng.yaml").read_text(encoding="utf-8"))
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    errors = [e.message for e in jsonschema.Draft202012Validator(
        rulebook_json_schema()).iter_errors(data)]
    assert any(message in e for e in errors), errors
    with pytest.raises(RulebookError):
        parse_rulebook(yaml.safe_dump(data, allow_unicode=True), "x.yaml")


def test_schema_accepts_every_duration_form_the_loader_accepts() -> None:
    validator = jsonschema.Draft202012Validator(rulebook_json_schema())
    data = yaml.safe_load((RULEBOOKS / "rongcheng.yaml").read_text(encoding="utf-8"))
    for form in ("10d", "2w", "1.5y", " 5y ", 30, 30.5, "1825"):
        data["rules"][0]["expires"] = form
        assert not list(validator.iter_errors(data)), form
        parse_rulebook(yaml.safe_dump(data, allow_unicode=True), "x.yaml")


def test_schema_module_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s" / "rulebook.schema.json"
    assert schema.main(["--out", str(out)]) == 0
    assert schema.main(["--check", str(out)]) == 0
    out.write_text("{}\n", encoding="utf-8")
    assert schema.main(["--check", str(out)]) == 1
    assert "stale" in capsys.readouterr().err
    assert schema.main([]) == 0
    assert json.loads(capsys.readouterr().out)["$schema"].endswith("2020-12/schema")


def test_models_are_what_the_schema_describes() -> None:
    defs = rulebook_json_schema()["$defs"]
    names = {n for n, m in model_classes().items() if issubclass(m, BaseModel)}
    assert names - {"Rulebook"} == set(defs) - {"Duration"}
