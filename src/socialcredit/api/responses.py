"""The shapes of the main success responses, as pydantic models: the OpenAPI document
then says what a client gets back, and FastAPI checks every answer against it (a field
the service adds without a model here is a 500 in the tests, not a silent change).

Fields a narrower view leaves out (a relying party's consent scope, a notice of another
kind) are optional and routes answer with `response_model_exclude_unset`: an absent
field stays absent rather than becoming `null`. Parts whose shape depends on the
rulebook (reasons, conditions, adverse-action content) are typed as JSON objects.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Object = dict[str, Any]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RulebookRef(Out):
    id: str
    version: str
    sha256: str


class Requester(Out):
    principal: str
    role: str


class Decision(Out):
    """A decision as its requester may see it (the decision log keeps the whole body)."""

    decision_id: str
    subject: str
    action: str
    program: str
    effect: str = Field(description="deny, benefit or allow")
    grant: Object = Field(description="the merged grants of the benefits that apply")
    reasons: list[Object] = Field(description="every consequence for the action, whether "
                                  "it applies and the conditions that made it so")
    at: str
    known_at: str | None = Field(None, description="absent below the `explanation` scope")
    decided_at: str
    score: float | None = Field(None, description="absent below the `score` scope")
    tier: str | None = Field(None, description="absent below the `tier` scope")
    lists: list[str]
    rulebook: RulebookRef
    standing_source: str = Field(description="live or materialized")
    hypothetical: bool
    requester: Requester | None = None
    purpose: str | None = None
    grant_id: str | None = None
    disclosure: str | None = Field(None, description="what the requester may see: lists, "
                                   "effect, tier, score, explanation or full")
    adverse_action: Object | None = Field(None, description="on a deny: what the subject "
                                          "is told (FCRA §615(a))")


class Submission(Out):
    """The outcome of a submitted batch (a retry with its key gets the same)."""

    file: str
    rows: int
    accepted: int
    duplicates: int
    rejected: int
    rejected_file: str | None
    recorded_at: str | None
    errors: list[Object]
    batch: int | None = Field(description="the ingest batch that stored the records")
    submission: int | None
    provider: str | None
    replayed: bool = Field(description="true: a retry, answered with the first outcome")


class Notice(Out):
    """A notice as its subject reads it; which parts it has depends on its kind."""

    notice_id: str
    kind: str
    subject: str | None
    audience: str
    created_at: str
    program: str | None
    headline: str
    rights: list[str] | None = None
    deliveries: list[Object] | None = None
    alert: Object | None = None
    record_id: str | None = None
    case_id: str | None = None
    record: Object | None = None
    points: Any = None
    listings: list[Object] | None = None
    object: Object | None = None
    repair: Object | None = None
    decision: Object | None = None
    case: Object | None = None
    outcome: Object | None = None
    proof: Object | None = None


class File(Out):
    """Everything about a subject (GDPR Art. 15, FCRA §609)."""

    subject: str
    subject_kind: str | None
    generated_at: str
    records: list[Object]
    erased_records: list[Object]
    standings: list[Object]
    listings: list[Object]
    decisions: list[Object]
    access_log: list[Object]
    notices: list[Notice]
    cases: list[Object]
    consents: list[Object]
    log: Any = Field(description="the subject's entries in the public log, verified")


class PublicList(Out):
    """A public list as published."""

    program: str
    list_: str = Field(alias="list")
    label: str | None
    kind: str
    legal_basis: str | None
    court_ordered: bool
    enter_when: Object
    notice_days: float | None
    max_duration_days: float | None
    ends: Object
    measures: list[Object]


class Listing(Out):
    """Someone on a public list now: from when, until when, why."""

    subject: str
    subject_kind: str | None
    program: str
    rulebook: RulebookRef
    list_: str = Field(alias="list")
    label: str | None
    legal_basis: str | None
    court_ordered: bool
    from_: str | None = Field(alias="from")
    until: str | None
    until_at_latest: str | None
    why: Object | None
    name: str | None = Field(None, description="an organization's registered name")


class Listings(Out):
    at: str
    items: list[Listing]
    next: str | None = Field(description="the `after` of the next page; null at the end")


class Organization(Out):
    subject: str
    subject_kind: str | None
    name: str | None
    uscc: str | None
    at: str
    listings: list[Listing]
    lists: list[PublicList]


class Leaf(Out):
    index: int
    data: str = Field(description="the leaf's bytes, base64")
    hash: str


class Leaves(Out):
    start: int
    leaves: list[Leaf]


class InclusionProof(Out):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    path: list[str]
    root: str
    verified: bool


class ConsistencyProof(Out):
    first: int
    second: int
    path: list[str]
    first_root: str
    second_root: str
    verified: bool


__all__ = ["ConsistencyProof", "Decision", "File", "InclusionProof", "Leaves", "Listing",
           "Listings", "Notice", "Organization", "PublicList", "Submission"]
