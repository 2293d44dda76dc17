"""One subject identity: the normalisation every entry point applies (issue 9, case 5)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialcredit.identifiers.subject import (
    MAX_ID_LENGTH,
    InvalidId,
    normalize_key,
    normalize_subject,
)


@pytest.mark.parametrize(("raw", "want"), [
    ("alice", "alice"), ("  alice ", "alice"), ("alice\t", "alice"),
    ("Zoe\u0308", "Zoë"), ("Zoë", "Zoë"),
    ("91350100m000100y43", "91350100M000100Y43"),  # USCC shape: upper-cased
    ("alicealicealiceali", "alicealicealiceali"),  # 18 letters, not a USCC's shape
    ("张三", "张三"), ("张三-01", "张三-01"), ("山田たろう", "山田たろう"),
    ("Müller-Lüdenscheidt", "Müller-Lüdenscheidt"), ("Ольга", "Ольга"), ("Σωκράτης", "Σωκράτης"),
    ("alice smith", "alice smith"),
])
def test_one_spelling(raw: str, want: str) -> None:
    assert normalize_subject(raw) == want


@pytest.mark.parametrize(("raw", "why"), [
    ("", "empty"), ("   ", "empty"), ("al\x00ice", "NUL"), ("al\u200bice", "invisible"),
    ("al\u202eice", "invisible"), ("a\nb", "control"), ("a\u00a0b", "space other than"),
    ("ａｌｉｃｅ", "compatibility"), ("ﬁsh", "compatibility"),
    ("\u0430lice", "mixes scripts"),  # Cyrillic а + Latin
    ("\u0430\u0435", "look like Latin"),  # all-Cyrillic look-alike of "ae"
    ("\u03bf\u03c1", "look like Latin"),  # Greek ο ρ: "op"
    ("alice١", "mixes scripts"),  # an Arabic-Indic digit in a Latin id
    ("x" * (MAX_ID_LENGTH + 1), "at most 200"),
])
def test_refused(raw: str, why: str) -> None:
    with pytest.raises(InvalidId, match=why):
        normalize_subject(raw)


@pytest.mark.parametrize("value", [12, 1.5, True, None, {"a": 1}, ["a"]])
def test_ids_are_text(value: object) -> None:
    with pytest.raises(InvalidId, match="must be text"):
        normalize_subject(value)
    with pytest.raises(InvalidId, match="must be text"):
        normalize_key(value, "record_id")


def test_a_rulebook_may_allow_mixed_scripts() -> None:
    assert normalize_subject("\u0430lice", mixed_scripts=True) == "\u0430lice"
    with pytest.raises(InvalidId):  # invisible characters never
        normalize_subject("al\u200bice", mixed_scripts=True)


@given(st.text(max_size=40))
def test_normalising_is_idempotent_and_clean(raw: str) -> None:
    try:
        once = normalize_subject(raw)
    except InvalidId:
        return
    assert normalize_subject(once) == once
    assert once == unicodedata.normalize("NFC", once) == once.strip()
    assert 0 < len(once) <= MAX_ID_LENGTH
    assert not any(unicodedata.category(c)[0] == "C" for c in once)
    assert normalize_subject(unicodedata.normalize("NFD", raw)) == once  # one identity


@given(st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=1,
               max_size=30))
def test_plain_ascii_ids_are_kept(raw: str) -> None:
    got = normalize_subject(raw)
    assert got == raw or (len(raw) == 18 and got == raw.upper())
