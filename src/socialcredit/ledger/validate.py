"""Validating records: every row checked alone, then against each other and the ledger.

Validation is plain Python: the per-row work is a handful of dict look-ups and one
`datetime.fromisoformat`, which keeps ingest above 50,000 records/s on two cores while
still naming the row (file line or position) and the field of every problem. Nothing
here writes: the service stores what validation lets through, in one transaction.
"""

from __future__ import annotations

import math
import re
from typing import Any

from sqlalchemy import Connection

from socialcredit.identifiers import uscc
from socialcredit.identifiers.subject import InvalidId, normalize_key, normalize_subject
from socialcredit.ledger import schema as s
from socialcredit.ledger.model import TypeInfo
from socialcredit.ledger.store import Ledger
from socialcredit.limits import CLOCK_SKEW_SECONDS, MAX_FIELD_CHARS, MAX_VALUE
from socialcredit.timeutil import US_PER_SECOND, format_instant, parse_instant

FIELDS = ("record_id", "provider", "subject", "type", "occurred_at", "value", "evidence", "ref")
OPTIONAL = {"value", "evidence", "ref", "subject_kind", "recorded_at"}
SUBJECT_KINDS = ("person", "organization")


class Row:
    """One input row under validation. A slotted class, not a dataclass: ingest builds
    hundreds of thousands of these per second."""

    __slots__ = ("errors", "evidence", "ingested_at", "kind", "line", "occurred_at",
                 "provider", "raw", "record_id", "recorded_at", "ref", "role", "subject",
                 "subject_kind", "type", "value_num", "value_text")

    def __init__(self, line: int, raw: dict[str, Any]) -> None:
        self.line = line
        self.raw = raw
        self.errors: list[str] = []
        self.kind = ""
        self.occurred_at = 0
        self.recorded_at: int | None = None
        self.ingested_at: int | None = None
        self.value_num: float | None = None
        self.value_text: str | None = None
        self.subject_kind: str | None = None
        self.record_id = self.provider = self.subject = self.type = ""
        self.role: str | None = None
        self.evidence: str | None = None
        self.ref: str | None = None

    def content(self) -> tuple[Any, ...]:
        return (self.provider, self.subject, self.type, self.occurred_at, self.value_num,
                self.value_text, self.evidence, self.ref)


# -- validating -------------------------------------------------------------------------

# A number, strictly: ASCII digits, an optional sign, fraction and exponent. Not `1_000`
# (Python's float() takes it), not Arabic-Indic or full-width digits, not nan or inf.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
# C0 and C1 control characters other than tab, line feed and carriage return
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, dict):
        return "an object"
    return "a list" if isinstance(v, list) else type(v).__name__


def _free_text(v: Any, field: str) -> str | None:
    """Evidence or a text value: text, bounded, without control characters (NUL
    included: PostgreSQL cannot store it, so neither does SQLite)."""
    if v.__class__ is not str:
        raise ValueError(f"{field}: must be text, not {_json_type(v)}")
    text = v.strip()
    if len(text) > MAX_FIELD_CHARS:
        raise ValueError(f"{field}: {len(text)} characters long (at most {MAX_FIELD_CHARS})")
    bad = _CONTROL.search(text)
    if bad is not None:
        raise ValueError(f"{field}: contains a control character "
                         f"(U+{ord(bad.group()):04X})")
    return text or None


def _number(v: float) -> float:
    if not math.isfinite(v) or abs(v) > MAX_VALUE:
        raise ValueError(f"value: {v!r} is outside the supported range of numbers "
                         f"(finite, at most {MAX_VALUE:g} in size)")
    return float(v)


def _parse_value(v: Any) -> tuple[float | None, str | None]:
    """A number if it is one (JSON) or reads as one strictly (CSV has no types), else
    text. Booleans, objects and lists are neither."""
    if v is None:
        return None, None
    if isinstance(v, bool | dict | list):
        raise ValueError(f"value: must be a number or text, not {_json_type(v)}")
    if isinstance(v, int | float):
        try:
            return _number(float(v)), None
        except OverflowError:
            raise ValueError("value: a number too large to hold") from None
    if v.__class__ is str and v.isprintable() and len(v) <= MAX_FIELD_CHARS:
        text: str | None = v.strip() or None  # the common case: nothing to refuse
    else:
        text = _free_text(v, "value")
    if text is None:
        return None, None
    if _NUMBER.fullmatch(text):
        return _number(float(text)), None
    return None, text


def _key(raw: dict[str, Any], key: str, err: Any) -> str:
    """An identifier field (record_id, provider, type, ref): text, normalised."""
    v = raw.get(key)
    if v is None or v == "":
        return ""
    if v.__class__ is str and _PLAIN_KEY.fullmatch(v):
        return str(v)
    try:
        return normalize_key(v, key)
    except InvalidId as exc:
        err(f"{key}: {exc}")
        return ""


_PLAIN_KEY = re.compile(r"[\x21-\x7e]{1,200}")


class Validator:
    """Checks one row at a time against the published types and registered providers.

    `now` is the transaction time this ingest will stamp (taken under the ledger's
    write lock): nothing may be recorded as occurring later than it, beyond a small
    clock skew."""

    def __init__(self, ledger: Ledger, conn: Connection, backfill: bool, now: int, *,
                 replicate: bool = False) -> None:
        for pv in ledger.program_versions(None, conn):
            ledger.ensure_operable(pv.rulebook, conn)
        self.types: dict[str, TypeInfo] = ledger.type_registry(conn)
        self.now = now
        self.providers = ledger.providers(conn)
        self.backfill = backfill or replicate
        # an import replicates another ledger: its records keep when that ledger stored
        # them (ingested_at), so their listings keep the dates its log states
        self.replicate = replicate
        self.mixed_scripts = ledger.mixed_scripts_allowed(conn)
        self.skew = CLOCK_SKEW_SECONDS * US_PER_SECOND
        self._subjects: dict[Any, str | InvalidId] = {}
        # text ids already found valid -> their spelling: the hot path's one look-up
        self._plain_subjects: dict[str, str] = {}

    def subject(self, value: Any) -> str:
        """The normalised subject id (cached: a file names each subject many times)."""
        key = (value.__class__, value) if isinstance(value, str | int | float) else None
        found = self._subjects.get(key) if key is not None else None
        if found is None:
            try:
                found = normalize_subject(value, mixed_scripts=self.mixed_scripts)
            except InvalidId as exc:
                found = exc
            if key is not None:
                self._subjects[key] = found
        if isinstance(found, InvalidId):
            raise found
        if value.__class__ is str:
            self._plain_subjects[value] = found
        return found

    def row(self, line: int, raw: dict[str, Any]) -> Row:
        # Hot loop: written for speed (local names, few helper calls on the common path);
        # every check still names its field.
        r = Row(line, raw)
        errors = r.errors
        err = errors.append
        if "__error__" in raw:
            err(f"row: {raw['__error__']}")
            return r
        get = raw.get
        plain = _PLAIN_KEY.fullmatch
        v = get("record_id")
        rid = v if v.__class__ is str and plain(v) else _key(raw, "record_id", err)
        r.record_id = rid
        if not rid and not errors:
            err("record_id: missing")
        v = get("provider")
        prov = v if v.__class__ is str and plain(v) else _key(raw, "provider", err)
        r.provider = prov
        role = self.providers.get(prov)
        r.role = role
        if role is None:
            if not prov and not any(e.startswith("provider:") for e in errors):
                err("provider: missing")
            elif prov:
                err(f"provider: unknown provider {prov!r} (the operator registers providers "
                    "with their roles)")
        elif rid and not (rid.startswith(prov) and rid[len(prov):len(prov) + 1] == ":"
                          and len(rid) > len(prov) + 1):
            err(f"record_id: {rid!r} is not in provider {prov!r}'s namespace: record ids "
                f"begin with their provider's id and a colon ({prov}:…)")
        v = get("subject")
        if v is None or v == "":
            err("subject: missing")
        else:
            known = self._plain_subjects.get(v) if v.__class__ is str else None
            if known is not None:
                r.subject = known
            else:
                try:
                    r.subject = self.subject(v)
                except InvalidId as exc:
                    err(f"subject: {exc}")
        kind = get("subject_kind")
        if kind is not None and kind != "":
            if kind.__class__ is not str or kind.strip() not in SUBJECT_KINDS:
                err(f"subject_kind: unknown subject kind {kind!r} (person or organization)")
            else:
                r.subject_kind = kind.strip()
        v = get("type")
        r.type = typ = v if v.__class__ is str and plain(v) else _key(raw, "type", err)
        info = self.types.get(typ)
        if info is None and typ:
            err(f"type: unknown record type {typ!r} (no published program declares it)")
        elif not typ and not any(e.startswith("type:") for e in errors):
            err("type: missing")
        occurred = get("occurred_at")
        if occurred is None or occurred == "":
            err("occurred_at: missing")
        elif occurred.__class__ is not str:
            err(f"occurred_at: must be an ISO 8601 timestamp as text, not "
                f"{_json_type(occurred)}")
        else:
            try:
                r.occurred_at = parse_instant(occurred)
            except ValueError as exc:
                err(f"occurred_at: {exc}")
        recorded = get("recorded_at")
        if recorded is not None and recorded != "":
            if not self.backfill:
                err("recorded_at: set by the ledger's clock; only an operator's "
                    "backfill may carry it")
            elif recorded.__class__ is not str:
                err(f"recorded_at: must be an ISO 8601 timestamp as text, not "
                    f"{_json_type(recorded)}")
            else:
                try:
                    r.recorded_at = parse_instant(recorded)
                except ValueError as exc:
                    err(f"recorded_at: {exc}")
                else:
                    if r.recorded_at > self.now:
                        err("recorded_at: a backfill may not record in the future")
        ingested = get("ingested_at") if self.replicate else None
        if ingested is not None and ingested != "":
            try:
                r.ingested_at = parse_instant(ingested)
            except (ValueError, TypeError) as exc:
                err(f"ingested_at: {exc}")
            else:
                if r.ingested_at > self.now or (r.recorded_at is not None
                                                and r.ingested_at < r.recorded_at):
                    err("ingested_at: between recorded_at and now")
        if r.occurred_at and r.occurred_at > (
                r.recorded_at if r.recorded_at is not None else self.now) + self.skew:
            err(f"occurred_at: {format_instant(r.occurred_at)} is later than the time it is "
                f"recorded ({format_instant(r.recorded_at or self.now)}): a record states "
                f"what has happened (clocks may differ by {CLOCK_SKEW_SECONDS} s at most)")
        value = get("value")
        if value is not None and value != "":
            try:
                r.value_num, r.value_text = _parse_value(value)
            except ValueError as exc:
                err(str(exc))
        v = get("evidence")
        if v is not None and v != "":
            if v.__class__ is str and v.isprintable() and len(v) <= MAX_FIELD_CHARS:
                r.evidence = v.strip() or None  # the common case: nothing to refuse
            else:
                try:
                    r.evidence = _free_text(v, "evidence")
                except ValueError as exc:
                    err(str(exc))
        v = get("ref")
        if v is not None and v != "":
            r.ref = v if v.__class__ is str and plain(v) else (_key(raw, "ref", err) or None)
        if info is not None:
            ikind = r.kind = info.kind
            if role is not None and role not in info.providers:
                err(f"provider: {prov!r} has role {role!r}, which may not submit "
                    f"{typ!r} (allowed: {', '.join(sorted(info.providers)) or 'none'})")
            if info.evidence_required and not r.evidence:
                err(f"evidence: required for {typ!r} (a URI or digest)")
            if info.numeric and r.value_num is None:
                err(f"value: {typ!r} is scored per unit and needs a number")
            elif info.nonnegative and r.value_num is not None and r.value_num < 0:
                err(f"value: {typ!r} is scored per unit and does not declare negative values "
                    "allowed (a negative value would turn a reward into a penalty, without "
                    "the evidence and legal basis a penalty needs)")
            if ikind == "resolution" or ikind == "void":
                if not r.ref:
                    err(f"ref: a {ikind} record names the record_id it "
                        f"{'resolves' if ikind == 'resolution' else 'voids'}")
                if ikind == "void" and role is not None and role != "reviewer":
                    err("provider: only reviewers may submit voids")
            elif r.ref:
                err(f"ref: only resolution and void records reference another record "
                    f"({typ!r} is {ikind})")
        return r


def cross_check(ledger: Ledger, conn: Connection, rows: list[Row],
                stored_duplicates: bool = True, types: dict[str, TypeInfo] | None = None
                ) -> tuple[list[Row], int, dict[str, str]]:
    """Checks that need other rows or the stored ledger: duplicates, subject kinds, refs.
    Returns the rows to insert, the count of exact duplicates, and new subjects' kinds.

    With stored_duplicates=False the per-record look-up of already stored ids is skipped
    (the optimistic path: the insert itself detects them; see service/ingest.py)."""
    c = s.records.c
    good = [r for r in rows if not r.errors]
    # duplicates inside the file
    first: dict[str, Row] = {}
    dup = 0
    unique: list[Row] = []
    if len({r.record_id for r in good}) == len(good):
        unique = good  # the common case, checked at C speed: no id twice
    else:
        for r in good:
            prev = first.get(r.record_id)
            if prev is None:
                first[r.record_id] = r
                unique.append(r)
            elif prev.content() == r.content():
                dup += 1
            else:
                r.errors.append(f"record_id: {r.record_id!r} appears on line {prev.line} "
                                "with other content")
    # duplicates against the ledger
    stored = {row[0]: row[1:] for row in ledger.fetch_by(
        conn, c.record_id, [r.record_id for r in unique], c.record_id, c.provider, c.subject,
        c.type, c.occurred_at, c.value_num, c.value_text, c.evidence, c.ref)
    } if stored_duplicates else {}
    fresh: list[Row] = [] if stored else list(unique)
    for r in unique if stored else ():
        old = stored.get(r.record_id)
        if old is None:
            fresh.append(r)
        elif tuple(old) == r.content():
            dup += 1
        else:
            diff = [name for name, a, b in zip(
                ("provider", "subject", "type", "occurred_at", "value", "value", "evidence",
                 "ref"), old, r.content(), strict=True) if a != b]
            r.errors.append(f"record_id: {r.record_id!r} is already in the ledger with other "
                            f"content ({', '.join(dict.fromkeys(diff))} differ)")
    # subject kinds: a kind given on a row that is otherwise rejected still says what the
    # subject is, so the subject's later rows do not all fail for want of it
    # (the first row's kind wins: later rows are written first, then overwritten)
    kinds_in_file = {r.subject: r.subject_kind for r in reversed(rows)
                     if r.subject_kind and r.subject}
    known = ledger.known_subjects(conn, sorted({r.subject for r in fresh}))
    new_subjects: dict[str, str] = {}
    for r in fresh:
        have = known.get(r.subject)
        if have is not None:
            if r.subject_kind and r.subject_kind != have:
                r.errors.append(f"subject_kind: {r.subject!r} is already a {have}, not a "
                                f"{r.subject_kind}")
            continue
        kind = kinds_in_file.get(r.subject)
        if kind is None:
            r.errors.append(f"subject_kind: required the first time subject {r.subject!r} "
                            "appears (person or organization)")
        elif r.subject_kind and r.subject_kind != kind:
            r.errors.append(f"subject_kind: {r.subject!r} is given as {kind} elsewhere in "
                            "these records")
        elif kind == "organization" and uscc.looks_like_uscc(r.subject):
            res = uscc.validate(r.subject)
            if res.status != "valid":
                r.errors.append(f"subject: not a valid Unified Social Credit Code "
                                f"({'; '.join(res.errors)})")
            else:
                new_subjects[r.subject] = kind
        else:
            new_subjects[r.subject] = kind
    # references: resolutions and voids name an existing record of the same subject
    ok = [r for r in fresh if not r.errors]
    referring = [r for r in ok if r.ref]
    # (the ids of the file are looked up only by rows that reference one, and only the
    # ids they reference are kept: a map of every id was a quarter of this check)
    wanted = {r.ref for r in referring}
    in_file = {r.record_id: r for r in ok if r.record_id in wanted} if referring else {}
    refs = sorted({r.ref for r in referring if r.ref and r.ref not in in_file})
    stored_refs = {row[0]: row[1:] for row in ledger.fetch_by(
        conn, c.record_id, refs, c.record_id, c.subject, c.kind, c.provider, c.type)}
    registry = types if types is not None else ledger.type_registry(conn)
    for r in referring:
        if not r.ref:
            continue  # (for the type checker: every row here has one)
        target = in_file.get(r.ref)
        t_subject, t_kind, t_provider, t_type = (
            (target.subject, target.kind, target.provider, target.type)
            if target else stored_refs.get(r.ref, (None,) * 4))
        if t_subject is None:
            r.errors.append(f"ref: no record {r.ref!r} in the ledger or these records")
        elif t_subject != r.subject:
            r.errors.append(f"ref: record {r.ref!r} is about another subject; a record never "
                            "counts for or against anyone else")
        elif t_kind == "void":
            r.errors.append(f"ref: {r.ref!r} is itself a void")
        elif r.kind == "resolution" and t_kind != "conduct":
            r.errors.append(f"ref: a resolution resolves a conduct record; {r.ref!r} is "
                            f"{t_kind}")
        elif r.kind == "resolution":
            info = registry.get(t_type or "")
            allowed = (info.resolved_by or {}) if info is not None else {}
            roles = allowed.get(r.type)
            if roles is None:
                by = ", ".join(sorted(allowed)) or "nothing (the rulebooks declare no "\
                    "resolution for it)"
                r.errors.append(f"ref: a {r.type!r} record may not resolve {r.ref!r}, a "
                                f"{t_type!r} record (resolved by: {by})")
            elif r.role is not None and r.role not in roles:
                r.errors.append(f"provider: role {r.role!r} may not resolve a {t_type!r} "
                                f"record (allowed: {', '.join(sorted(roles))})")
        elif r.kind == "void" and t_provider == r.provider:
            r.errors.append("provider: a reviewer may not void a record it provided itself")
    # a row whose reference was rejected goes with it
    changed = True
    while changed:
        changed = False
        for r in referring:
            if not r.errors and r.ref and r.ref in in_file and in_file[r.ref].errors:
                r.errors.append(f"ref: the record it references ({r.ref!r}) was rejected")
                changed = True
    insert = [r for r in fresh if not r.errors]
    if len(insert) == len(fresh):
        return insert, dup, new_subjects  # every new subject came with a row it keeps
    used = {r.subject for r in insert}
    return insert, dup, {k: v for k, v in new_subjects.items() if k in used}


