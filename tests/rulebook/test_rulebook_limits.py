"""Bounded rulebook input (issue 14 item 5): each hostile YAML is refused with the file and
line, quickly and in little memory, instead of gigabytes, a RecursionError or a
ValueError traceback; a rulebook declaring more than the documented limits is refused;
the located errors and did-you-mean hints keep working."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.errors import RulebookError
from socialcredit.rulebook import load_rulebook, parse_rulebook
from socialcredit.rulebook.limits import LIMITS, MAX_BINS, MAX_BYTES, MAX_DEPTH
from tests.helpers import BASE

runner = CliRunner()
SCALE_LINE = next(i for i, line in enumerate(BASE.splitlines(), 1) if line.startswith("scale:"))


def alias_bomb(levels: int = 9) -> str:
    """The billion laughs in YAML: each anchor is nine of the one before (about 1 KB)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def refused(text: str, match: str) -> tuple[str, float, int]:
    """Parse under a clock and a memory tracer; return the message, seconds and peak."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(RulebookError) as caught:
            parse_rulebook(text, "hostile.yaml")
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = caught.value.message
    assert match in message, message
    return message, seconds, peak


def test_an_alias_bomb_is_refused_at_its_first_alias() -> None:
    message, seconds, peak = refused(alias_bomb(), "YAML aliases (*a0) are not allowed")
    assert message.startswith("hostile.yaml:2: ")
    assert seconds < 1 and peak < 5_000_000


def test_a_merge_key_is_an_alias_too() -> None:
    text = BASE.replace("scale: {base: 1000, min: 0, max: 1200}",
                        "defaults: &d {base: 1000}\nscale:\n  <<: *d")
    refused(text, "YAML aliases (*d) are not allowed")


@pytest.mark.parametrize("text", ["[" * 5000, "{a: " * 5000, "[" * 300_000 + "]" * 300_000,
                                  '[ "]" ' * 40_000, "- " * 5000 + "x"],
                         ids=["brackets", "braces", "balanced", "quoted-closers", "dashes"])
def test_deep_nesting_is_refused_without_recursion(text: str) -> None:
    if len(text.encode()) > MAX_BYTES:
        message, seconds, _ = refused(text, "bytes; a rulebook may have at most")
    else:
        message, seconds, _ = refused(text, f"nested deeper than {MAX_DEPTH} levels")
        assert message.startswith("hostile.yaml:1: ")
    assert seconds < 5  # the old loader took minutes, or died of a RecursionError


def test_deep_block_nesting_names_its_line() -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(60)) + "  " * 60 + "v\n"
    message, _, _ = refused(text, f"nested deeper than {MAX_DEPTH} levels")
    assert message.startswith(f"hostile.yaml:{MAX_DEPTH}: ")


def test_a_5000_digit_integer_is_refused_not_a_traceback() -> None:
    text = BASE.replace("scale: {base: 1000,", "scale: {base: " + "9" * 5000 + ",")
    message, _, _ = refused(text, "a number written with 5,000 characters")
    assert message.startswith(f"hostile.yaml:{SCALE_LINE}: ")


@pytest.mark.parametrize(("value", "match"), [
    ("1" * 19, "has 19 digits; integers in a rulebook have at most 18"),
    (".inf", ".inf is not a finite number"),
    ("-.inf", "-.inf is not a finite number"),
    (".nan", ".nan is not a finite number"),
    ("1e400", "scale.max: Input should be a finite number"),  # YAML 1.1 reads it as text
])
def test_numbers_out_of_range_are_refused_with_their_line(value: str, match: str) -> None:
    message, _, _ = refused(BASE.replace("max: 1200}", f"max: {value}}}"), match)
    assert f"hostile.yaml:{SCALE_LINE}: " in message


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    f = tmp_path / "huge.yaml"
    f.write_text(BASE + "# " + "x" * MAX_BYTES + "\n", encoding="utf-8")
    with pytest.raises(RulebookError, match=f"huge.yaml: .* bytes; a rulebook may have at most "
                                            f"{MAX_BYTES:,}"):
        load_rulebook(f)


def test_complexity_limits_name_the_list() -> None:
    base_rules = len(parse_rulebook(BASE).rules)
    n = LIMITS["rules"] + 1
    rules = "".join(f"  - {{record: bonus, dimension: civic, points: {i % 9 + 1}}}\n"
                    for i in range(n - base_rules))
    text = BASE.replace("rules:\n", "rules:\n" + rules)
    message, _, _ = refused(text, f"rules: {n:,} entries; a rulebook may have at most "
                                  f"{LIMITS['rules']:,}")
    line = BASE.splitlines().index("rules:") + 1
    assert f"hostile.yaml:{line}: rules:" in message
    at_limit = BASE.replace("rules:\n", "rules:\n" + rules.split("\n", 1)[1])
    assert len(parse_rulebook(at_limit, "ok.yaml").rules) == LIMITS["rules"]


def test_bins_per_attribute_are_bounded() -> None:
    bins = ", ".join(f"{{below: {i}, points: 1}}" for i in range(MAX_BINS + 1))
    text = BASE.replace("bins: [{below: 12, points: -20},", f"bins: [{bins}, {{below: 12, "
                                                           "points: -20},")
    refused(text, f"attributes[0].bins: {MAX_BINS + 5:,} entries")  # BASE has 4


def test_lint_and_init_refuse_hostile_files_cleanly(tmp_path: Path) -> None:
    for name, text in (("bomb.yaml", alias_bomb()), ("deep.yaml", "[" * 5000),
                       ("digits.yaml", BASE.replace("base: 1000", "base: " + "7" * 5000))):
        f = tmp_path / name
        f.write_text(text, encoding="utf-8")
        for args in (["lint", str(f)], ["init", "--rulebook", str(f), "--db",
                                        str(tmp_path / "l.db")]):
            res = runner.invoke(app, args)
            assert res.exit_code == 1, res.output
            assert res.output.startswith(f"error[rulebook.invalid]: {f}:"), res.output
            assert res.exception is None or isinstance(res.exception, SystemExit)


def test_located_errors_and_suggestions_still_work() -> None:
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(BASE.replace("points_per_unit: 0.5", "point_per_unit: 0.5"), "t.yaml")
    assert "did you mean 'points_per_unit'?" in caught.value.message
    line = next(i for i, t in enumerate(BASE.splitlines(), 1) if "points_per_unit: 0.5" in t)
    assert f"t.yaml:{line}: rules[2]: unknown key 'point_per_unit'" in caught.value.message
    with pytest.raises(RulebookError, match=r"t.yaml:2: not valid YAML"):
        parse_rulebook("rulebook: x\n\x1f", "t.yaml")
