"""Languages: English (the msgids) and Simplified Chinese, from gettext catalogues.

The catalogues are the committed `.po` files under locale/; they are compiled in memory
with Babel the first time a language is asked for, so a fresh clone needs no build step
and there is no `.mo` to forget. The page's language comes from `?lang=`, else the
`sc_lang` cookie, else the browser's Accept-Language, else English. Dates and numbers are
formatted for the language by Babel (CLDR data).
"""

from __future__ import annotations

import contextvars
import gettext
import io
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from socialcredit.errors import SocialCreditError
from socialcredit.timeutil import parse_instant

LOCALE_DIR = Path(__file__).parent / "locale"
#: Supported languages: their code in URLs and cookies, and the Babel locale.
LANGUAGES = {"en": "en", "zh-CN": "zh_CN"}
DEFAULT = "en"
NAMES = {"en": "English", "zh-CN": "简体中文"}

current: contextvars.ContextVar[str] = contextvars.ContextVar("sc_lang", default=DEFAULT)


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The language's catalogue, compiled from its .po file (English: the msgids)."""
    if lang == DEFAULT:
        return gettext.NullTranslations()
    po = LOCALE_DIR / LANGUAGES[lang] / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale=LANGUAGES[lang])
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def gettext_(message: str) -> str:
    return translations(current.get()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(current.get()).ngettext(singular, plural, n)


def negotiate(query: str | None, cookie: str | None, accept: str | None) -> str:
    """The language for a request: asked for, remembered, or the browser's best."""
    for asked in (query, cookie):
        if asked in LANGUAGES:
            return asked
    if accept:
        weighted = []
        for part in accept.split(","):
            tag, _, q = part.strip().partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            weighted.append((weight, tag.strip().lower()))
        for _, tag in sorted(weighted, key=lambda w: -w[0]):
            if tag.startswith("zh"):
                return "zh-CN"
            if tag.startswith("en"):
                return "en"
    return DEFAULT


def locale() -> Locale:
    return Locale.parse(LANGUAGES[current.get()])


def _instant(value: str | int | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        us = value if isinstance(value, int) else parse_instant(str(value))
        return datetime.fromtimestamp(us / 1_000_000, tz=UTC)
    except (ValueError, OverflowError, OSError, SocialCreditError):
        return None  # "-infinity" and the like: shown as a dash


def when(value: str | int | None) -> str:
    """An instant as the reader's language writes a date and time (UTC)."""
    dt = _instant(value)
    if dt is None:
        return "—"
    return format_datetime(dt, "medium", tzinfo=UTC, locale=locale()) + " UTC"


def day(value: str | int | None) -> str:
    """An instant's date, in the reader's language."""
    dt = _instant(value)
    if dt is None:
        return "—"
    return format_date(dt, "long", locale=locale())


def number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    fmt = "#,##0" if digits == 0 or float(value).is_integer() else "#,##0." + "#" * digits
    return format_decimal(value, format=fmt, locale=locale())


def signed(value: float | int | None) -> str:
    """Points with their sign (+5, −20)."""
    if value is None:
        return "—"
    text = number(abs(value))
    return ("+" if value > 0 else "−" if value < 0 else "") + text


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return format_percent(value, locale=locale())


__all__ = ["DEFAULT", "LANGUAGES", "NAMES", "current", "day", "gettext_", "negotiate",
           "ngettext_", "number", "percent", "signed", "translations", "when"]
