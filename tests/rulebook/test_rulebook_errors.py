"""Loader errors a rulebook author can act on: unknown keys name what is allowed there
and the key most likely meant, on the key's own line."""

from __future__ import annotations

import pytest

from socialcredit.errors import RulebookError
from socialcredit.rulebook import parse_rulebook
from socialcredit.rulebook.loader import model_at
from socialcredit.rulebook.model import Bin, EnterWhen, Rule, Rulebook, Scale, When
from tests.helpers import BASE


def error_lines(old: str, new: str) -> list[str]:
    assert old in BASE, old
    text = BASE.replace(old, new)
    with pytest.raises(RulebookError) as exc:
        parse_rulebook(text, "base.yaml")
    lines = str(exc.value).splitlines()
    assert lines[0] == "invalid rulebook"
    return [line.strip() for line in lines[1:]]


def line_no(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(("old", "new", "where", "key", "meant", "allowed"), [
    ("points: -10, half_life", "point_per_unit: -10, half_life", "rules[0]",
     "point_per_unit", "points_per_unit", "record, dimension, points, points_per_unit, "
     "half_life, expires, max_count, resolved_points, applies_to"),
    ("expires: 1y, max_count: 3", "expire: 1y, max_count: 3", "rules[0]", "expire",
     "expires", "record, dimension, points"),
    ("scale: {base", "scael: {base", "top level", "scael", "scale",
     "rulebook, version, title, subjects, scale, dimensions"),
    ("{on_list: defaulters},\n", "{on_lists: defaulters},\n", "consequences[0].when", "on_lists",
     "on_list", "on_list, not_on_list, tier_at_least, score_at_least, score_below"),
    ("enter_when: {record: ruling}", "enter_when: {recrd: ruling}", "lists[0].enter_when",
     "recrd", "record", "record, score_below"),
    ("bins: [{below: 12", "bins: [{bellow: 12", "attributes[0].bins[0]", "bellow", "below",
     "below, values, points"),
    ("{id: money, min: -500", "{id: money, lable: x, min: -500", "dimensions[0]", "lable",
     "label", "id, min, max"),
])
def test_unknown_key_names_the_allowed_keys_and_the_likely_one(
        old: str, new: str, where: str, key: str, meant: str, allowed: str) -> None:
    lines = error_lines(old, new)
    want = f"{where}: unknown key {key!r} — did you mean {meant!r}? (allowed: {allowed}"
    hits = [x for x in lines if want in x]
    assert len(hits) == 1, lines
    assert "documentation keys: label, description, note, source, illustrative)" in hits[0]
    assert "Extra inputs" not in "\n".join(lines)
    line = int(hits[0].split(":")[1])
    assert line == line_no(BASE.replace(old, new), new.split(":")[0].split("{")[-1].strip()
                           + ":")


def test_unknown_key_without_a_near_match_only_lists_the_allowed() -> None:
    [line] = error_lines("points: -10, half_life", "frobnicate: 3, points: -10, half_life")
    assert "rules[0]: unknown key 'frobnicate' (allowed: record, dimension," in line
    assert "did you mean" not in line


def test_every_unknown_key_is_reported_at_once() -> None:
    lines = error_lines("points: -10, half_life", "pointz: -10, halflife")
    assert [x.split(": ", 1)[1].split(" —")[0] for x in lines] == [
        "rules[0]: unknown key 'pointz'", "rules[0]: unknown key 'halflife'"]


def test_misspelt_choice_is_suggested() -> None:
    [line] = error_lines("kind: black", "kind: blakc")
    assert line.endswith("lists[0].kind: Input should be 'black' or 'red' — did you mean "
                         "'black'?")
    [line] = error_lines("{id: arrears, kind: conduct", "{id: arrears, kind: zzz")
    assert "did you mean" not in line and "'conduct', 'fact', 'resolution' or 'void'" in line


def test_model_at_follows_the_path() -> None:
    assert model_at(()) is Rulebook
    assert model_at(("rules", 3)) is Rule
    assert model_at(("scale",)) is Scale
    assert model_at(("attributes", 0, "bins", 2)) is Bin
    assert model_at(("lists", 1, "enter_when")) is EnterWhen
    assert model_at(("consequences", 0, "when")) is When
    assert model_at(("consequences", 0, "grant")) is None
    assert model_at(("nosuch",)) is None


def test_grant_keys_are_free() -> None:
    """A benefit's grant is the relying party's own vocabulary: any key is allowed."""
    rb = parse_rulebook(BASE.replace("grant: {helmet: free}", "grant: {helmet_fre: free}"))
    assert rb.consequences[2].grant == {"helmet_fre": "free"}
