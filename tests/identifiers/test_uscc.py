"""Tests for the Unified Social Credit Code (GB 32100-2015) validator and CLI.

Reference vectors are public: 91350100M000100Y43 (a commonly cited example) and
91110000600037341L (python-stdnum's doctest) both pass both checks; the GB 11714
vectors 00251805-7, 00251807-3, 00251808-1 and 00251809-X come from a public
organization-code generator and cover the X case.
"""

from __future__ import annotations

import json
import random

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.cli.uscc import uscc_command
from socialcredit.identifiers.uscc import (
    ALPHABET,
    AUTHORITIES,
    PROVINCES,
    check_character,
    explain,
    generate,
    is_valid,
    looks_like_uscc,
    org_code_check_digit,
    validate,
)

PUBLISHED = ["91350100M000100Y43", "91110000600037341L"]


def make(prefix8: str, body8: str) -> str:
    """A code with both check characters computed: the way a registrar issues one."""
    first17 = prefix8 + body8 + org_code_check_digit(body8)
    return first17 + check_character(first17)


def substitute(code: str, index: int, char: str) -> str:
    return code[:index] + char + code[index + 1 :]


# --- check algorithms -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "digit"),
    [
        ("00251805", "7"),
        ("00251807", "3"),
        ("00251808", "1"),
        ("00251809", "X"),  # C = 10
        ("00000000", "0"),  # C = 11
        ("M000100Y", "4"),  # letters valued A=10 … Z=35
        ("60003734", "1"),
    ],
)
def test_org_code_check_digit_vectors(body: str, digit: str) -> None:
    assert org_code_check_digit(body) == digit


@pytest.mark.parametrize(
    ("first17", "char"), [("91350100M000100Y4", "3"), ("91110000600037341", "L")]
)
def test_check_character_vectors(first17: str, char: str) -> None:
    assert check_character(first17) == char


@pytest.mark.parametrize("bad", ["", "1234567", "123456789", "0025180-"])
def test_org_code_check_digit_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        org_code_check_digit(bad)


@pytest.mark.parametrize(
    "bad", ["9135010", "91350100M000100Y", "91350100M000100I4", "9135010-M000100Y4"]
)
def test_check_character_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        check_character(bad)


def test_check_character_distinguishes_every_value_of_a_position() -> None:
    # Weight 3^16 mod 31 = 28 is nonzero mod the prime 31, so the 31 possible values
    # of position 17 give 31 different check characters: the whole alphabet.
    seen = {check_character("9111000060003734" + c) for c in ALPHABET}
    assert seen == set(ALPHABET)


# --- valid codes ------------------------------------------------------------


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_examples_are_valid(code: str) -> None:
    result = validate(code)
    assert result.status == "valid"
    assert result.errors == []
    assert result.failed_checks == ()
    assert is_valid(code)
    assert result.is_valid


def test_explains_parts_of_published_example() -> None:
    parts = validate("91350100M000100Y43").parts
    assert parts is not None
    assert parts.authority_code == "9"
    assert parts.authority is not None and "market regulation" in parts.authority
    assert parts.entity_type == "enterprise"
    assert parts.division_code == "350100"
    assert parts.province_code == "35"
    assert parts.province == "Fujian"
    assert parts.organization_code == "M000100Y4"
    assert parts.org_check_digit == "4"
    assert parts.check_character == "3"


@pytest.mark.parametrize(
    ("prefix", "authority_word", "entity_type", "province"),
    [
        ("91440300", "market regulation", "enterprise", "Guangdong"),
        ("92310115", "market regulation", "individual business (getihu)", "Shanghai"),
        ("93510100", "market regulation", "farmers' specialised cooperative", "Sichuan"),
        ("11110000", "staffing", "state organ (government agency)", "Beijing"),
        ("12330000", "staffing", "public institution", "Zhejiang"),
        ("51650000", "civil affairs", "social organisation", "Xinjiang"),
        ("53100000", "civil affairs", "foundation", "national level (central registration)"),
        ("31120000", "judicial", "law firm", "Tianjin"),
        ("71540000", "religious", "venue for religious activities", "Tibet"),
        ("N2420100", "agriculture", "village-level collective economic organisation", "Hubei"),
        ("Y1820000", "other", "other", "Macau"),
    ],
)
def test_constructed_codes_are_valid_and_explained(
    prefix: str, authority_word: str, entity_type: str, province: str
) -> None:
    code = make(prefix, "MA01H7GX")
    result = validate(code)
    assert result.status == "valid", result.errors
    assert result.parts is not None
    assert result.parts.authority is not None
    assert authority_word in result.parts.authority
    assert result.parts.entity_type == entity_type
    assert result.parts.province == province


def test_normalises_case_and_surrounding_whitespace() -> None:
    result = validate("  91350100m000100y43\n")
    assert result.code == "91350100M000100Y43"
    assert result.status == "valid"


def test_province_table_has_34_entries() -> None:
    assert len(PROVINCES) == 34
    assert PROVINCES["11"] == "Beijing"
    assert PROVINCES["82"] == "Macau"


# --- invalid codes ----------------------------------------------------------


@pytest.mark.parametrize("code", ["", "91350100M000100Y4", "91350100M000100Y433", "9"])
def test_wrong_length_is_invalid(code: str) -> None:
    result = validate(code)
    assert result.status == "invalid"
    assert result.parts is None
    assert result.errors[0] == f"length: {len(code)} characters, expected 18"


@pytest.mark.parametrize("letter", list("IOZSV"))
@pytest.mark.parametrize("index", [0, 3, 9, 17])
def test_forbidden_letters_are_invalid(letter: str, index: int) -> None:
    code = substitute(PUBLISHED[0], index, letter)
    result = validate(code)
    assert result.status == "invalid"
    assert any(
        e.startswith(f"position {index + 1}: {letter!r} is not allowed") for e in result.errors
    )


@pytest.mark.parametrize("char", ["-", "*", "é", "０"])
def test_foreign_characters_are_invalid(char: str) -> None:
    result = validate(substitute(PUBLISHED[0], 10, char))
    assert result.status == "invalid"
    assert any(e.startswith("position 11:") for e in result.errors)


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        (make("B1350100", "12345678"), "position 1: 'B' is not a registering authority"),
        (make("94350100", "12345678"), "position 2: '4' is not an entity type for authority '9'"),
        (make("Y2350100", "12345678"), "position 2: '2' is not an entity type for authority 'Y'"),
        (make("91990100", "12345678"), "positions 3-4: '99' is not a province-level"),
        (make("9135A100", "12345678"), "positions 3-8: division code '35A100' must be 6 digits"),
    ],
)
def test_impossible_structure_is_invalid(code: str, fragment: str) -> None:
    result = validate(code)
    assert result.status == "invalid"
    assert any(fragment in e for e in result.errors), result.errors
    assert result.parts is not None  # still explained as far as possible


def test_position_17_must_be_digit_or_x() -> None:
    first17 = "91350100M000100YA"
    result = validate(first17 + check_character(first17))
    assert result.status == "invalid"
    assert any(e.startswith("position 17:") and "0-9 or X" in e for e in result.errors)


def test_both_checks_failing_is_invalid() -> None:
    # Position 17 changed from 4 to 5: the org-code digit and the check character both fail.
    result = validate("91350100M000100Y53")
    assert result.status == "invalid"
    assert result.failed_checks == ("organization_code", "check_character")
    assert "position 17: organization-code check digit is '5', expected '4'" in result.errors


# --- legacy codes -----------------------------------------------------------


def test_wrong_check_character_is_legacy_not_invalid() -> None:
    result = validate("91350100M000100Y4X")
    assert result.status == "legacy"
    assert result.failed_checks == ("check_character",)
    assert result.errors == ["position 18: check character is 'X', expected '3'"]
    assert not is_valid("91350100M000100Y4X")
    assert not result.is_valid


def test_wrong_org_check_digit_alone_is_legacy() -> None:
    first17 = "91350100M000100Y5"  # org-code check digit should be 4
    code = first17 + check_character(first17)
    result = validate(code)
    assert result.status == "legacy"
    assert result.failed_checks == ("organization_code",)
    assert result.errors == ["position 17: organization-code check digit is '5', expected '4'"]


# --- looks_like_uscc --------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        ("91350100M000100Y43", True),
        ("91350100M000100Y4X", True),  # legacy still looks like one
        ("91350100I000100Y43", True),  # forbidden letter: must be validated, then rejected
        ("91350100m000100y43", True),
        ("91350100M000100Y4", False),
        ("91350100-000100Y43", False),
        ("acme-corp", False),
        ("ＡＢＣ１２３４５６７８９０１２３４５", False),  # full-width characters
    ],
)
def test_looks_like_uscc(s: str, expected: bool) -> None:
    assert looks_like_uscc(s) is expected


# --- generation -------------------------------------------------------------


def test_generate_is_deterministic() -> None:
    a = [generate(random.Random(42)) for _ in range(3)]
    b = [generate(random.Random(42)) for _ in range(3)]
    assert a == b
    rng1, rng2 = random.Random(7), random.Random(7)
    assert [generate(rng1) for _ in range(20)] == [generate(rng2) for _ in range(20)]


@pytest.mark.parametrize("province", ["44", "Guangdong", "guangdong", "65"])
def test_generate_with_province(province: str) -> None:
    rng = random.Random(1)
    for _ in range(20):
        code = generate(rng, province)
        assert is_valid(code)
        assert code[2:4] in {"44", "65"}
        assert code[2:4] == ("65" if province == "65" else "44")


def test_generate_rejects_unknown_province() -> None:
    with pytest.raises(ValueError, match="unknown province"):
        generate(random.Random(0), "Atlantis")


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=2**32))
def test_every_generated_code_validates(seed: int) -> None:
    code = generate(random.Random(seed))
    result = validate(code)
    assert result.status == "valid", (code, result.errors)
    assert looks_like_uscc(code)
    assert result.parts is not None
    assert code[0] in AUTHORITIES
    assert result.parts.entity_type is not None
    assert code[2:4] in PROVINCES and code[2:4] not in {"71", "81", "82"}


# --- single substitutions ---------------------------------------------------
# The mod-31 weights 3^(i-1) are all nonzero mod the prime 31 and value differences
# lie in 1..30, so every single substitution in positions 1-17 changes the expected
# check character; one in position 18 contradicts it directly. Hence no single
# substitution yields "valid", and whenever the result is structurally sound the
# check-character check is among the failures. The mod-11 org-code check does NOT
# catch every substitution (values differing by 11, e.g. "1" and "C", collide), so a
# typo in positions 9-16 can come out "legacy" rather than "invalid": asserted below.


def _assert_substitution_detected(code: str, index: int, char: str) -> None:
    mutated = substitute(code, index, char)
    result = validate(mutated)
    assert result.status != "valid", mutated
    if result.failed_checks:  # structure was sound, so the checks ran
        assert "check_character" in result.failed_checks, mutated
    if index == 17:
        assert result.status == "legacy"
        assert result.failed_checks == ("check_character",)


@settings(max_examples=500)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    index=st.integers(min_value=0, max_value=17),
    char=st.sampled_from(ALPHABET),
)
def test_single_substitution_is_never_valid(seed: int, index: int, char: str) -> None:
    code = generate(random.Random(seed))
    if code[index] == char:
        return
    _assert_substitution_detected(code, index, char)


@pytest.mark.parametrize("code", PUBLISHED)
def test_single_substitution_exhaustive(code: str) -> None:
    for index in range(18):
        for char in ALPHABET:
            if char != code[index]:
                _assert_substitution_detected(code, index, char)


def test_org_code_check_misses_substitutions_differing_by_11() -> None:
    # "1" (1) → "C" (12) at position 9: org-code sum unchanged mod 11, so only the
    # check character catches it and the result is legacy, not invalid.
    code = make("91110000", "10000000")
    mutated = substitute(code, 8, "C")
    assert org_code_check_digit(mutated[8:16]) == mutated[16]
    result = validate(mutated)
    assert result.status == "legacy"
    assert result.failed_checks == ("check_character",)


def test_explain_requires_18_characters() -> None:
    with pytest.raises(ValueError):
        explain("123")


# --- CLI --------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    """The real command line: exit codes follow its one table."""
    return app


runner = CliRunner()


def test_cli_all_valid_exits_0_with_table(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["uscc", *PUBLISHED], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for code in PUBLISHED:
        assert code in result.stdout
    assert "valid" in result.stdout
    assert "Fujian" in result.stdout


def test_cli_json(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["uscc", "--json", PUBLISHED[0], "91350100M000100Y4X"])
    assert result.exit_code == 2  # a legacy code is not a valid one
    data = json.loads(result.stdout)
    assert [d["status"] for d in data] == ["valid", "legacy"]
    assert set(data[0]) >= {"code", "status", "errors", "parts"}
    assert data[0]["parts"]["province"] == "Fujian"
    assert data[1]["errors"] == ["position 18: check character is 'X', expected '3'"]
    assert "warning: 91350100M000100Y4X is legacy" in result.stderr


def test_cli_legacy_exits_2_with_warning_unless_accepted(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["uscc", "91350100M000100Y4X"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "legacy" in result.stdout
    assert "warning" in result.stderr
    result = runner.invoke(cli, ["uscc", "--accept-legacy", "91350100M000100Y4X"])
    assert result.exit_code == 0, result.output


def test_cli_any_invalid_exits_2(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["uscc", "--json", PUBLISHED[0], "91350100I000100Y43"])
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data[1]["status"] == "invalid"
    assert data[1]["errors"][0].startswith("position 9: 'I' is not allowed")


def test_cli_wrong_length_json_has_null_parts(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["uscc", "--json", "123"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)[0]["parts"] is None


def test_cli_without_codes_is_usage_error(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["uscc"])
    assert result.exit_code == 64


def test_uscc_command_returns_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert uscc_command(PUBLISHED, json_out=True) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert uscc_command(["nope"], json_out=False) == 2


# --- cross-check against python-stdnum ---------------------------------------------

@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17))
def test_check_character_agrees_with_python_stdnum(first17: str) -> None:
    """The check-character arithmetic is ours (so it can explain itself position by
    position); python-stdnum's `cn.uscc` is an independent implementation of the same
    standard, and the two must agree on every input."""
    from stdnum.cn import uscc as stdnum_uscc

    assert check_character(first17) == stdnum_uscc.calc_check_digit(first17)
    right = first17 + check_character(first17)
    wrong = first17 + next(c for c in ALPHABET if c != check_character(first17))
    # stdnum checks the format and the check character; so does our "check character"
    assert "check_character" not in validate(right).failed_checks
    assert not stdnum_uscc.is_valid(wrong)
    assert validate(wrong).status in ("legacy", "invalid")


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid_for_python_stdnum_too(code: str) -> None:
    from stdnum.cn import uscc as stdnum_uscc

    assert stdnum_uscc.is_valid(code) and validate(code).status == "valid"
