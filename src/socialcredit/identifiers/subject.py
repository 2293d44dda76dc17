"""One identity per subject: the normalisation every entry point applies.

A subject id arrives through ingest, `standing`, `check`, `log mine` and (later) the
HTTP API. If each of them cleaned ids its own way, `"alice "` could be refused a listing
that `"alice"` holds, and `Zoë` typed on two keyboards (NFC and NFD) would be two people.
So there is exactly one function, :func:`normalize_subject`, and every interface calls
it before it looks anything up or stores anything:

* the id must be text (a JSON number, boolean or object is not an id);
* Unicode NFC (one spelling of every accented letter), then trimmed;
* no control, format (zero-width space, joiners, bidirectional overrides), separator,
  private-use or unassigned characters, and no space other than U+0020;
* no compatibility characters (full-width letters, ligatures, mathematical letters,
  no-break spaces: NFKC would change them, so they imitate a plainer id);
* at most :data:`MAX_ID_LENGTH` characters;
* look-alikes are refused unless a program's `subject_ids.mixed_scripts` allows them:
  letters from more than one script (Latin `alice` with a Cyrillic `а`), except the
  combinations writing systems really use (Latin with Han, Kana, Hangul or Bopomofo),
  and ids written wholly in Cyrillic or Greek letters that all look like Latin ones;
* an id shaped like a Unified Social Credit Code (GB 32100-2015: 18 letters and digits,
  the administrative division in positions 3–8) is upper-cased, as the code is issued.

:func:`normalize_key` is the same cleaning for the other identifiers of a record
(record_id, provider, type, ref), without the script rules.
"""

from __future__ import annotations

import re
import unicodedata

#: The longest id, in characters: within every database's column (PostgreSQL would
#: otherwise refuse what SQLite stores) and far beyond any real identifier.
MAX_ID_LENGTH = 200

_USCC_SHAPE = re.compile(r"[0-9A-Za-z]{2}[0-9]{6}[0-9A-Za-z]{10}")
_PLAIN = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")

# Scripts that may share an id (Unicode TS 39, "highly restrictive"): Latin with the
# scripts of Chinese, Japanese and Korean writing.
_ALLOWED_MIXES = (frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
                  frozenset({"LATIN", "HAN", "BOPOMOFO"}),
                  frozenset({"LATIN", "HAN", "HANGUL"}))
# Letters of Cyrillic and Greek that look like Latin ones (Unicode's confusables.txt,
# the lower and upper-case letters that render as a Latin letter).
_LATIN_LOOKALIKES = frozenset(
    "аВвЕеКкМмНнОоРрСсТтУуХхЅѕІіЈјԁԛԜԝӀӏА"  # Cyrillic
    "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧοιντυκρ")  # Greek


class InvalidId(ValueError):
    """An identifier that cannot name anyone; the message says why."""


def _script(ch: str) -> str | None:
    """The script of a letter or digit (None: common or inherited, such as ASCII digits,
    punctuation and combining marks)."""
    cat = unicodedata.category(ch)
    if cat[0] == "M" or (ch.isascii() and not ch.isalpha()):
        return None
    if cat[0] not in "LN":
        return None
    name = unicodedata.name(ch, "")
    if name.startswith("CJK "):
        return "HAN"
    head = name.split(" ", 1)[0].split("-", 1)[0]
    return head or None


def _refuse_bad_characters(text: str, what: str) -> None:
    for ch in text:
        cat = unicodedata.category(ch)
        if ch == "\x00":
            raise InvalidId(f"{what} contains a NUL character")
        if cat[0] == "C" or cat in ("Zl", "Zp"):
            kind = {"Cc": "a control", "Cf": "an invisible formatting", "Cs": "a surrogate",
                    "Co": "a private-use", "Cn": "an unassigned"}.get(cat, "a separator")
            raise InvalidId(f"{what} contains {kind} character (U+{ord(ch):04X})")
        if cat == "Zs" and ch != " ":
            raise InvalidId(f"{what} contains a space other than U+0020 (U+{ord(ch):04X})")
        if unicodedata.normalize("NFKC", ch) != ch:
            raise InvalidId(f"{what} contains a compatibility character that imitates "
                            f"another ({ch!r}, U+{ord(ch):04X})")


def normalize_key(value: object, what: str = "id") -> str:
    """A record's identifier (record_id, provider, type, ref), cleaned as subjects are
    but without the script rules. Raises InvalidId."""
    if not isinstance(value, str):
        raise InvalidId(f"{what} must be text, not {_json_type(value)}")
    if _PLAIN.fullmatch(value) and len(value) <= MAX_ID_LENGTH:
        return value  # the common case: printable ASCII, already trimmed
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise InvalidId(f"{what} is empty")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidId(f"{what} is {len(text)} characters long (at most {MAX_ID_LENGTH})")
    _refuse_bad_characters(text, what)
    return text


def normalize_subject(value: object, *, mixed_scripts: bool = False) -> str:
    """The one spelling of a subject id, or InvalidId saying why it cannot be one."""
    text = normalize_key(value, "subject")
    if text.isascii():
        return text.upper() if _USCC_SHAPE.fullmatch(text) else text
    if not mixed_scripts:
        scripts = {s for s in map(_script, text) if s is not None}
        if len(scripts) > 1 and not any(scripts <= ok for ok in _ALLOWED_MIXES):
            raise InvalidId(f"subject mixes scripts ({', '.join(sorted(scripts))}): a "
                            "look-alike of another id")
        letters = [c for c in text if c.isalpha()]
        if scripts & {"CYRILLIC", "GREEK"} and letters and all(
                c in _LATIN_LOOKALIKES for c in letters):
            raise InvalidId("subject is written in letters that all look like Latin ones: "
                            "a look-alike of another id")
    return text


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return "null" if value is None else type(value).__name__


__all__ = ["MAX_ID_LENGTH", "InvalidId", "normalize_key", "normalize_subject"]
