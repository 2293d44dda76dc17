"""Submissions over the network: a batch of records stored all or nothing, once per
idempotency key, and a provider's history of what it submitted.

A provider that times out does not know whether its batch was stored; it sends it again
with the same `Idempotency-Key`. The first commit wins: a retry with the same key and
the same rows gets the first outcome back (marked `replayed`), a retry racing the first
(two requests at once) finds it after the database refuses the second key, and the same
key with other rows is refused (`idempotency.conflict`) rather than silently ignored.
A refused batch (any bad row) stores nothing and no key: fixed and sent again, it is new.

A batch of a few hundred rows or more, numbered 1, 2, 3, … (as the API numbers it), is
validated by the columnar path, as a CSV file is (ledger/columnar.py): the same rows,
errors and ledger as the row path (tests/api/test_submission_columns.py), with about
half its validation work at 1,000 rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from socialcredit.errors import SocialCreditError
from socialcredit.ledger.columnar import columns_of_rows
from socialcredit.ledger.readers import Numbered
from socialcredit.operations import submissions as store
from socialcredit.service.context import Context
from socialcredit.service.ingest import Keyed, Located, Records, Source

MAX_KEY = 200


#: One encoder for every digest (json.dumps with options builds a new one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str,
                              ensure_ascii=False)


def digest(numbered: Sequence[Numbered]) -> str:
    """SHA-256 of the rows in canonical JSON, a line each: what makes a retry the same
    batch (the digests of stored submissions are of this very spelling)."""
    encode = _CANONICAL.encode
    text = "".join([encode(raw) + "\n" for _, raw in numbered])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


#: Rows from which a batch is checked by columns: the column checks cost about 2 ms a
#: batch whatever its size, the row validator 8–15 µs a row (2026-12-07).
COLUMNS_FROM = 200


def as_columns(numbered: Sequence[Numbered]) -> Source:
    """The batch as columns when it has COLUMNS_FROM rows or more, numbered from 1 in
    order (the columnar path names a row by its position); else as given (the row
    path)."""
    if len(numbered) < COLUMNS_FROM or any(n != i for i, (n, _) in enumerate(numbered, 1)):
        return numbered
    cols = columns_of_rows([raw for _, raw in numbered])
    return cols if cols is not None else numbered


class Submissions:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def submit(self, numbered: Sequence[Numbered], *, key: str | None = None,
               source: str = "records") -> dict[str, Any]:
        """Validate and store a batch (numbered rows: their position, from 1), all or
        nothing; with a key, at most once. Returns the ingest report with the submission
        id, and `replayed: true` when a retry got the stored outcome."""
        ctx = self.ctx
        ctx.allow("records.ingest")
        if key is not None and (not key.strip() or len(key) > MAX_KEY):
            raise SocialCreditError(f"an idempotency key has 1 to {MAX_KEY} characters",
                                    code="usage")
        keyed = Keyed(key, digest(numbered)) if key is not None else None
        if keyed is not None:
            found = self._replay(keyed)
            if found is not None:
                return found
        try:
            rep = Records(ctx).ingest_numbered(as_columns(numbered), Located(source, "row"),
                                               keyed=keyed)
        except IntegrityError:
            if keyed is not None:
                found = self._replay(keyed)  # a concurrent retry committed first
                if found is not None:
                    return found
            raise
        return {**rep.as_dict(), "batch": rep.batch, "submission": rep.submission,
                "provider": rep.provider, "replayed": False}

    def _replay(self, keyed: Keyed) -> dict[str, Any] | None:
        with self.ctx.read() as conn:
            s = store.by_key(conn, self.ctx.principal.id, keyed.key)
        if s is None:
            return None
        if s.request_sha256 != keyed.request_sha256:
            raise SocialCreditError(
                f"idempotency key {keyed.key!r} was used for another batch (submission "
                f"{s.seq}); use a new key for new records", code="idempotency.conflict")
        return {**s.report, "batch": s.batch, "submission": s.seq, "provider": s.provider,
                "replayed": True}

    def history(self, provider: str | None = None, *, before: int | None = None,
                limit: int = 100) -> list[dict[str, Any]]:
        """Submissions newest first (keyset: `before` a submission id). A provider (or
        reviewer) principal reads its own provider's; the operator and auditors anyone's."""
        ctx = self.ctx
        ctx.allow("records.history")
        p = ctx.principal
        if p.role not in ("operator", "auditor"):
            if provider is not None and provider != p.provider:
                from socialcredit.principals import Forbidden

                raise Forbidden(f"{p.role} {p.id!r} reads the submissions of provider "
                                f"{p.provider!r} only")
            provider = p.provider
        with ctx.read() as conn:
            return [s.as_dict() for s in store.history(conn, provider, before=before,
                                                       limit=limit)]

    def get(self, submission: int) -> dict[str, Any]:
        """One submission with the report it was answered with."""
        ctx = self.ctx
        ctx.allow("records.history")
        with ctx.read() as conn:
            s = store.get(conn, submission)
        p = ctx.principal
        if s is None or (p.role not in ("operator", "auditor") and s.provider != p.provider):
            raise SocialCreditError(f"no submission {submission}", code="not_found")
        return {**s.as_dict(), "report": s.report}


__all__ = ["COLUMNS_FROM", "Submissions", "as_columns", "digest"]
