"""Organizations' registered names, for public search. Names are folded (NFKC, casefold,
spaces collapsed) so that "ACME  Ltd" finds "Acme Ltd"; Chinese names fold to themselves."""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import Connection, select

from socialcredit.operations.schema import organization_names as names

MAX_NAME = 400


def fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def put(conn: Connection, subject: str, name: str, by: str, at: int) -> None:
    folded = fold(name)
    exists = conn.execute(select(names.c.subject).where(names.c.subject == subject)).first()
    if exists is None:
        conn.execute(names.insert().values(subject=subject, name=name.strip(), folded=folded,
                                           set_by=by, set_at=at))
    else:
        conn.execute(names.update().where(names.c.subject == subject).values(
            name=name.strip(), folded=folded, set_by=by, set_at=at))


def of(conn: Connection, subjects: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i in range(0, len(subjects), 900):
        for s, n in conn.execute(select(names.c.subject, names.c.name).where(
                names.c.subject.in_(subjects[i:i + 900]))):
            out[str(s)] = str(n)
    return out


def search(conn: Connection, text: str, limit: int = 1000) -> list[dict[str, Any]]:
    """Organizations whose folded name contains the folded text."""
    f = fold(text)
    if not f:
        return []
    pattern = "%" + f.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute(select(names.c.subject, names.c.name).where(
        names.c.folded.like(pattern, escape="\\")).order_by(names.c.subject).limit(limit))
    return [{"subject": s, "name": n} for s, n in rows]


__all__ = ["MAX_NAME", "fold", "of", "put", "search"]
