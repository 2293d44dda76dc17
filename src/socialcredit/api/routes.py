"""The routes, by party. Paths are the contract's; each calls one service operation as
the request's principal (the service refuses what that principal may not do).

Public (no token): health, readiness, metrics, public lists, published rulebooks and
catalogues, the transparency log. Everything else needs `Authorization: Bearer`.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from socialcredit.api import responses
from socialcredit.api.app import State
from socialcredit.api.problems import PRIVATE_PROBLEMS, PROBLEM, PUBLIC_PROBLEMS
from socialcredit.errors import SocialCreditError
from socialcredit.principals import ANONYMOUS, Principal
from socialcredit.rulebook import parse_rulebook
from socialcredit.rulebook.catalogue import parse_catalogue
from socialcredit.service import Service
from socialcredit.service.cases import Attachment
from socialcredit.timeutil import format_instant, parse_instant

#: Records in one submitted batch at most (a larger batch: split it).
MAX_BATCH = 100_000
ID = Annotated[str, Field(min_length=1, max_length=200)]
#: The largest integer a database column holds (a larger one in a request is refused).
BIG = 2**63 - 1
TEXT = Annotated[str, Field(min_length=1, max_length=10_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _state(request: Request) -> State:
    st: State = request.app.state.sc
    return st


def authenticate(request: Request) -> None:
    """The token is checked (401) and the principal's rate limit taken (429) before
    anything in the request is looked at."""
    st = _state(request)
    principal = st.tokens.principal(st.svc, request.headers.get("authorization"))
    request.scope["sc.principal"] = principal
    st.limits.take(principal.id)


async def authenticated(request: Request) -> None:
    """Every private router's dependency (`authenticate`), on the event loop: a token
    verified lately is found in memory; only a new one is checked (scrypt, ~0.1 s) on
    a worker thread."""
    st = _state(request)
    principal = st.tokens.cached(request.headers.get("authorization"))
    if principal is None:
        await run_in_threadpool(authenticate, request)
        return
    request.scope["sc.principal"] = principal
    st.limits.take(principal.id)


def acting(request: Request) -> Service:
    """The service as the request's principal (resolved by `authenticated`)."""
    principal = request.scope.get("sc.principal")
    if not isinstance(principal, Principal):
        authenticate(request)
        principal = request.scope["sc.principal"]
    return _state(request).acting(principal)


def public(request: Request) -> Service:
    """The service as the anonymous public (rate-limited by client address)."""
    st = _state(request)
    client = request.client.host if request.client is not None else "unknown"
    st.limits.take(f"public:{client}")
    return st.svc.acting_as(ANONYMOUS)


def _instant(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_instant(value)
    except (SocialCreditError, ValueError, OverflowError) as e:
        raise SocialCreditError(f"{name}: {e}", code="usage",
                                details=[{"field": name, "message": str(e)}]) from None


def _attachments(items: Sequence[AttachmentIn]) -> list[Attachment]:
    out = []
    for i, a in enumerate(items):
        try:
            content = base64.b64decode(a.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise SocialCreditError(f"attachments[{i}].content_base64: not base64",
                                    code="usage") from None
        out.append(Attachment(a.name, content))
    return out


# -- request bodies -----------------------------------------------------------------------

class DecisionIn(Strict):
    subject: ID
    action: ID
    program: ID | None = None
    purpose: ID | None = None
    grant: ID | None = Field(None, description="the subject's consent grant id")
    materialized: bool = Field(False, description="read the materialized standing (fast)")


class AttachmentIn(Strict):
    name: ID
    content_base64: Annotated[str, Field(max_length=14_000_000)]


class ObjectionIn(Strict):
    record_id: ID
    grounds: TEXT
    program: ID | None = None
    list_id: ID | None = Field(None, description="object to one listing only")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)


class AppealIn(Strict):
    grounds: TEXT
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)


class RepairIn(Strict):
    record_id: ID
    conditions: dict[ID, Annotated[str, Field(max_length=1000)]]
    program: ID | None = None
    statement: Annotated[str, Field(max_length=10_000)] | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)


class OutcomeIn(Strict):
    outcome: ID
    reasons: TEXT
    correction: dict[str, Any] | None = None


class ConsentIn(Strict):
    relying_party: ID
    purpose: ID
    scope: ID
    expires_at: str | None = None
    subject: ID | None = None


class ProviderIn(Strict):
    provider: ID
    role: ID


class PrincipalIn(Strict):
    principal: ID
    role: ID
    provider: ID | None = None
    subject: ID | None = None
    email: Annotated[str, Field(max_length=320)] | None = None
    webhook: Annotated[str, Field(max_length=2000)] | None = None
    token_days: float | None = Field(90.0, gt=0, le=3650)


class ScoreJobIn(Strict):
    program: ID | None = None
    at: str | None = None


class ExportIn(Strict):
    kind: Literal["ledger", "log", "file"] = Field(
        description="ledger: a Parquet dataset (zip); log: the transparency log's files "
                    "(zip); file: a subject's file")
    format: Literal["parquet", "files", "json", "html"] | None = Field(
        None, description="ledger: parquet; log: files; file: json (default) or html")
    subject: ID | None = Field(None, description="whose file (a file export only)")


# -- routers ------------------------------------------------------------------------------

health = APIRouter(tags=["health"])
open_ = APIRouter(prefix="/api/v1/public", tags=["public"], responses=PUBLIC_PROBLEMS)
log = APIRouter(prefix="/api/v1/log", tags=["public log"], responses=PUBLIC_PROBLEMS)
PRIVATE = [Depends(authenticated)]
provider = APIRouter(prefix="/api/v1", tags=["providers"], dependencies=PRIVATE,
                     responses=PRIVATE_PROBLEMS)
relying = APIRouter(prefix="/api/v1", tags=["relying parties"], dependencies=PRIVATE,
                    responses=PRIVATE_PROBLEMS)
subject = APIRouter(prefix="/api/v1/me", tags=["subjects"], dependencies=PRIVATE,
                    responses=PRIVATE_PROBLEMS)
cases = APIRouter(prefix="/api/v1", tags=["cases"], dependencies=PRIVATE,
                  responses=PRIVATE_PROBLEMS)
operator = APIRouter(prefix="/api/v1", tags=["operators"], dependencies=PRIVATE,
                     responses=PRIVATE_PROBLEMS)


@health.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@health.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is this release's (503 otherwise)."""
    try:
        ready = _state(request).svc.ready()
    except SocialCreditError as e:
        return JSONResponse({"database": False, "detail": str(e)}, status_code=503)
    return JSONResponse(ready, status_code=200 if ready["migrations_current"] else 503)


@health.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> Response:
    """Prometheus metrics (text exposition format)."""
    return Response(generate_latest(_state(request).metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)


# -- public -------------------------------------------------------------------------------

@open_.get("/lists", response_model=list[responses.PublicList], response_model_exclude_unset=True)
def public_lists(request: Request, program: str | None = None) -> list[dict[str, Any]]:
    """Every public list in force: what it is, its legal basis, how a listing ends."""
    return public(request).public.lists(program)


@open_.get("/listings", response_model=responses.Listings, response_model_exclude_unset=True)
def public_listings(request: Request, q: Annotated[str | None, Query(max_length=200)] = None,
                    program: str | None = None, list: str | None = None,
                    after: Annotated[str | None, Query(max_length=200)] = None,
                    limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """Who is on a public list now, from when until when, why; search by subject id,
    Unified Social Credit Code or an organization's name. Cursor: `after` = `next`."""
    return public(request).public.entries(program=program, list_id=list, query=q,
                                          after=after, limit=limit)


@open_.get("/organizations/{subject}", response_model=responses.Organization,
           response_model_exclude_unset=True)
def public_organization(request: Request, subject: str) -> dict[str, Any]:
    """An organization's public listings, with legal basis and dates."""
    return public(request).public.organization(subject)


@open_.get("/programs")
def public_programs(request: Request) -> list[dict[str, Any]]:
    """The published rulebook versions (name, version, effective time, sha256)."""
    return [{"program": v.program, "version": v.version, "sha256": v.sha256,
             "effective_at": format_instant(v.effective_at),
             "published_at": format_instant(v.published_at),
             "rulebook": v.rulebook.model_dump(mode="json", exclude_none=True)}
            for v in public(request).programs.versions()]


@open_.get("/catalogues")
def public_catalogues(request: Request) -> list[dict[str, Any]]:
    """The published catalogues: what may be recorded, which measures exist."""
    return public(request).catalogues.list()


@log.get("/checkpoint", response_class=PlainTextResponse)
def log_checkpoint(request: Request) -> PlainTextResponse:
    """The latest signed checkpoint (a C2SP signed note); with the tiles below, the log
    in the C2SP tlog-tiles layout under the prefix `/api/v1/log`."""
    return PlainTextResponse(public(request).log.checkpoint().note,
                             headers={"Cache-Control": CHECKPOINT_CACHE})


#: The checkpoint changes as the log grows: caches may keep it a moment only.
CHECKPOINT_CACHE = "public, max-age=2"
#: The bytes at a tile's URL never change (the log is append-only): cache them for good.
TILE_CACHE = "public, max-age=31536000, immutable"
_TILE_RESPONSE: dict[int | str, dict[str, Any]] = {200: {
    "description": "the tile's bytes",
    "content": {"application/octet-stream": {"schema": {"type": "string",
                                                        "format": "binary"}}}}}


def _tile(request: Request, path: str) -> Response:
    tile, data = public(request).log.tile(path)
    headers = {"Cache-Control": TILE_CACHE}
    if tile.level is None and "gzip" in request.headers.get("accept-encoding", ""):
        data = gzip.compress(data, compresslevel=6, mtime=0)
        headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return Response(data, media_type="application/octet-stream", headers=headers)


@log.get("/tile/entries/{index:path}", response_class=Response, responses=_TILE_RESPONSE)
def log_entry_bundle(request: Request, index: str) -> Response:
    """An entry bundle (tlog-tiles): leaves `N*256` on, each a big-endian uint16 length
    and the leaf's bytes; `index` is `<N>` or `<N>.p/<W>` (W leaves of a partial bundle),
    N in 3-digit groups (`x001/x234/067`). Gzipped when the client accepts it."""
    return _tile(request, f"entries/{index}")


@log.get("/tile/{level}/{index:path}", response_class=Response, responses=_TILE_RESPONSE)
def log_tile(request: Request, level: str, index: str) -> Response:
    """A Merkle tree tile (tlog-tiles): the 256 hashes (8,192 bytes) of the subtrees of
    height 8·`level` starting at subtree 256·N, or the first W of them (`<N>.p/<W>`, a
    partial tile); `level` 0 holds leaf hashes."""
    return _tile(request, f"{level}/{index}")


@log.get("/leaves", response_model=responses.Leaves)
def log_leaves(request: Request, start: Annotated[int, Query(ge=0, le=BIG)] = 0,
               end: Annotated[int | None, Query(ge=0, le=BIG)] = None) -> dict[str, Any]:
    """Leaves [start, end) (at most 1,000), each with its data (base64) and hash."""
    end = start + 1000 if end is None or end - start > 1000 else end
    got = public(request).log.leaves(start, end)
    return {"start": start, "leaves": [{"index": i, "data": base64.b64encode(d).decode(),
                                        "hash": h.hex()} for i, d, h in got]}


@log.get("/proof/{index}", response_model=responses.InclusionProof)
def log_proof(request: Request, index: Annotated[int, Path(ge=0, le=BIG)],
              size: Annotated[int | None, Query(ge=1, le=BIG)] = None) -> dict[str, Any]:
    """An RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves."""
    return public(request).log.prove(index, size)


@log.get("/consistency", response_model=responses.ConsistencyProof)
def log_consistency(request: Request, first: Annotated[int, Query(ge=1, le=BIG)],
                    second: Annotated[int, Query(ge=1, le=BIG)]) -> dict[str, Any]:
    """An RFC 9162 consistency proof between two tree sizes."""
    return public(request).log.consistency(first, second)


@log.get("/pubkey", response_class=PlainTextResponse)
def log_pubkey(request: Request) -> PlainTextResponse:
    """The log's verifier key (for monitors)."""
    return PlainTextResponse(public(request).log.pubkey())


# -- providers ----------------------------------------------------------------------------

def _rows(body: bytes, content_type: str) -> list[tuple[int, dict[str, Any]]]:
    """A JSON array of objects, or NDJSON: each row numbered by its index from 1."""
    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a number")

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SocialCreditError(f"the body is not UTF-8 (byte {e.start})",
                                code="ingest.unreadable") from None
    rows: list[Any]
    try:
        if "ndjson" in content_type or "jsonl" in content_type:
            rows = [json.loads(line, parse_constant=no_constants)
                    for line in text.splitlines() if line.strip()]
        else:
            rows = json.loads(text, parse_constant=no_constants)
    except (ValueError, RecursionError) as e:
        raise SocialCreditError(f"the body is not valid JSON: {e}",
                                code="ingest.unreadable") from None
    if isinstance(rows, dict) and isinstance(rows.get("records"), list):
        rows = rows["records"]
    if not isinstance(rows, list):
        raise SocialCreditError("the body must be a JSON array of records (or NDJSON)",
                                code="ingest.unreadable")
    if len(rows) > MAX_BATCH:
        raise SocialCreditError(f"a batch has at most {MAX_BATCH} records; split it",
                                code="request.too_large")
    for i, r in enumerate(rows, 1):
        if not isinstance(r, dict):
            raise SocialCreditError(f"row {i}: a record is a JSON object",
                                    code="ingest.unreadable")
    return list(enumerate(rows, 1))


@provider.post("/records", response_model=responses.Submission, openapi_extra={
    "requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        "application/x-ndjson": {"schema": {"type": "string"}}}}})
async def submit_records(request: Request,
                         idempotency_key: Annotated[str | None, Header(max_length=200)] = None
                         ) -> dict[str, Any]:
    """Submit a batch of records, all or nothing; with `Idempotency-Key` at most once (a
    retry gets the first outcome, `replayed: true`). Bad rows: 422 with every error
    located by row index and field; nothing is stored."""
    svc = acting(request)
    body = await request.body()
    rows = _rows(body, request.headers.get("content-type", ""))
    st = _state(request)
    try:
        out = await run_in_threadpool(svc.submissions.submit, rows, key=idempotency_key,
                                      source="request")
    except SocialCreditError as e:
        if e.code == "ingest.rows_invalid":
            st.metrics.ingest.labels("rejected").inc(len(rows))
        raise
    if not out.get("replayed"):
        st.metrics.ingest.labels("accepted").inc(int(out.get("accepted", 0)))
    return out


@provider.get("/submissions")
def submissions(request: Request, provider: str | None = None,
                before: Annotated[int | None, Query(ge=1, le=BIG)] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """The principal's provider's submissions, newest first (cursor: `before`)."""
    items = acting(request).submissions.history(provider, before=before, limit=limit)
    return {"items": items, "next": items[-1]["submission"] if len(items) == limit else None}


@provider.get("/submissions/{submission}")
def submission(request: Request, submission: Annotated[int, Path(ge=1, le=BIG)]
               ) -> dict[str, Any]:
    return acting(request).submissions.get(submission)


# -- relying parties ----------------------------------------------------------------------

@relying.post("/decisions", response_model=responses.Decision, response_model_exclude_unset=True)
async def decide(request: Request, body: DecisionIn) -> dict[str, Any]:
    """May `subject` do `action`? Effect, reasons, adverse-action content on deny, and a
    decision id; a relying party sees what its consent grant's scope allows. Answered
    once the decision's log row is committed."""
    return await decision(request, body)


async def decision(request: Request, body: DecisionIn) -> dict[str, Any]:
    """What `POST /decisions` answers once the principal is authenticated and the body
    valid."""
    svc = acting(request)
    return await decision_as(_state(request), svc, body)


async def decision_as(st: State, svc: Service, body: DecisionIn) -> dict[str, Any]:
    """`decision` for the service acting as the request's principal (shared by the
    route above and its lean twin in lean.py, which has no Request to hand)."""
    decisions = svc.decisions
    if body.materialized:
        misses = st.misses
        if misses is not None and not svc.decides_from_memory(body.subject, body.program):
            # read with the other decisions in flight that miss the cache (misses.py)
            await misses.read(svc.principal, body.subject, body.program)
        # read from memory on the event loop (a cache miss is read on a worker
        # thread); the request then awaits its group's commit without holding a thread
        d = await decisions.decide_async(body.subject, body.action, body.program,
                                         materialized=True, purpose=body.purpose,
                                         grant=body.grant)
    else:  # a live standing costs milliseconds of CPU: not on the event loop
        d = await run_in_threadpool(decisions.decide, body.subject, body.action,
                                    body.program, purpose=body.purpose, grant=body.grant)
    st.metrics.decision(d.effect).inc()
    return d.as_dict()


@relying.get("/subjects/{subject}/standing")
def standing(request: Request, subject: str, program: str | None = None,
             at: str | None = None, purpose: str | None = None,
             grant: str | None = None) -> dict[str, Any]:
    """A subject's standing as the asking principal may see it (logged for the subject)."""
    return acting(request).standings.view(subject, program, _instant(at, "at"),
                                          purpose=purpose, grant=grant)


@relying.get("/decisions")
def decision_log(request: Request, subject: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """The decision log (a subject: its own; a relying party: its own decisions)."""
    return acting(request).decisions.log(subject, limit)


# -- subjects -----------------------------------------------------------------------------

@subject.get("/file", response_model=responses.File, response_model_exclude_unset=True)
def my_file(request: Request) -> dict[str, Any]:
    """Everything about me: standings explained, records, notices, cases, grants, who
    asked."""
    return acting(request).files.of()


@subject.get("/standing")
def my_standing(request: Request, program: str | None = None) -> dict[str, Any]:
    svc = acting(request)
    me = svc.principal.subject
    if me is None:
        raise SocialCreditError("only a subject principal has a standing of its own",
                                code="forbidden")
    return svc.standings.view(me, program)


@subject.get("/notices", response_model=list[responses.Notice], response_model_exclude_unset=True)
def my_notices(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100
               ) -> list[dict[str, Any]]:
    return acting(request).notices.of(None, limit)


@subject.get("/cases")
def my_cases(request: Request) -> list[dict[str, Any]]:
    """My objections, appeals and repair applications, with their deadlines."""
    return acting(request).cases.of(None)


@subject.post("/objections", status_code=201)
def object_(request: Request, body: ObjectionIn) -> dict[str, Any]:
    """Object to a record (and the listings it triggers): a timely objection suspends
    the listing until decided."""
    return acting(request).cases.object(body.record_id, body.grounds, program=body.program,
                                        list_id=body.list_id,
                                        attachments=_attachments(body.attachments))


@subject.post("/repairs", status_code=201)
def repair(request: Request, body: RepairIn) -> dict[str, Any]:
    """Apply for credit repair of a record."""
    return acting(request).repairs.apply(body.record_id, body.conditions,
                                         program=body.program, statement=body.statement,
                                         attachments=_attachments(body.attachments))


@subject.get("/consents")
def my_consents(request: Request) -> list[dict[str, Any]]:
    return acting(request).consents.list(None)


@subject.post("/consents", status_code=201)
def give_consent(request: Request, body: ConsentIn) -> dict[str, Any]:
    """Let one relying party see, for one purpose, what `scope` allows, until expiry."""
    return acting(request).consents.grant(body.relying_party, body.purpose, body.scope,
                                          subject=body.subject,
                                          expires_at=_instant(body.expires_at, "expires_at"))


@subject.delete("/consents/{grant_id}")
def revoke_consent(request: Request, grant_id: str) -> dict[str, Any]:
    return acting(request).consents.revoke(grant_id)


@subject.get("/access-log")
def my_access_log(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 1000
                  ) -> list[dict[str, Any]]:
    """Who read my standing or decided about me, when, for what purpose."""
    return acting(request).access.of(None, limit)


# -- cases (subjects, reviewers) ----------------------------------------------------------

@cases.get("/cases/{case_id}")
def case(request: Request, case_id: str) -> dict[str, Any]:
    return acting(request).cases.get(case_id)


@cases.post("/cases/{case_id}/appeal", status_code=201)
def appeal(request: Request, case_id: str, body: AppealIn) -> dict[str, Any]:
    return acting(request).cases.appeal(case_id, body.grounds,
                                        attachments=_attachments(body.attachments))


@cases.get("/review/queue")
def queue(request: Request) -> list[dict[str, Any]]:
    """Open objections, appeals and repair applications, overdue first, with deadlines."""
    return acting(request).cases.queue()


@cases.post("/cases/{case_id}/decision")
def decide_case(request: Request, case_id: str, body: OutcomeIn) -> dict[str, Any]:
    """Decide a case with reasons (objection or appeal: reviewers; repair: reviewers)."""
    svc = acting(request)
    kind = svc.cases.get(case_id).get("kind")
    if kind == "repair":
        return svc.repairs.decide(case_id, body.outcome, body.reasons)
    return svc.cases.decide(case_id, body.outcome, body.reasons, correction=body.correction)


# -- operators ----------------------------------------------------------------------------

@operator.post("/programs", status_code=201)
def publish(request: Request, rulebook: Annotated[str, Body(media_type="application/yaml",
                                                            max_length=2_000_000)],
            dry_run: bool = False) -> dict[str, Any]:
    """Publish a rulebook (YAML body): the response carries the linter's findings and
    the changes against the version in force."""
    svc = acting(request)
    return svc.programs.publish_report(parse_rulebook(rulebook, "request"), dry_run=dry_run)


@operator.post("/catalogues", status_code=201)
def publish_catalogue(request: Request,
                      catalogue: Annotated[str, Body(media_type="application/yaml",
                                                     max_length=2_000_000)]
                      ) -> dict[str, Any]:
    cat = parse_catalogue(catalogue, "request")
    published = acting(request).catalogues.publish(cat)
    return {"catalogue": cat.catalogue, "version": cat.version, "sha256": cat.sha256,
            "published": published}


@operator.get("/providers")
def providers(request: Request) -> dict[str, str]:
    return acting(request).providers.list()


@operator.post("/providers", status_code=201)
def add_provider(request: Request, body: ProviderIn) -> dict[str, Any]:
    added = acting(request).providers.add(body.provider, body.role)
    return {"provider": body.provider, "role": body.role, "added": added}


@operator.get("/principals")
def principals(request: Request) -> list[dict[str, Any]]:
    return acting(request).principals.list()


@operator.post("/principals", status_code=201)
def add_principal(request: Request, body: PrincipalIn) -> dict[str, Any]:
    """Register a principal; the response carries its token, shown once."""
    return acting(request).principals.add(body.principal, body.role, provider=body.provider,
                                          subject=body.subject, email=body.email,
                                          webhook=body.webhook, token_days=body.token_days)


@operator.delete("/principals/{principal_id}")
def revoke_principal(request: Request, principal_id: str) -> dict[str, Any]:
    out = acting(request).principals.revoke(principal_id)
    _state(request).tokens.forget()
    return out


@operator.post("/principals/{principal_id}/rotate")
def rotate_principal(request: Request, principal_id: str) -> dict[str, Any]:
    out = acting(request).principals.rotate(principal_id)
    _state(request).tokens.forget()
    return out


@operator.post("/jobs/score", status_code=202)
def score_job(request: Request, body: ScoreJobIn) -> dict[str, Any]:
    """`score --all` as a background job; follow it at /api/v1/jobs/{id}."""
    return acting(request).jobs.score(body.program, _instant(body.at, "at"))


@operator.get("/jobs/{job_id}")
def job(request: Request, job_id: str) -> dict[str, Any]:
    return acting(request).jobs.get(job_id)


@operator.get("/jobs")
def jobs(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50
         ) -> list[dict[str, Any]]:
    return acting(request).jobs.list(limit)


def _export_view(view: dict[str, Any]) -> dict[str, Any]:
    """An export's job, with where to download it once done."""
    if view["status"] == "done":
        view["download"] = f"/api/v1/exports/{view['job_id']}/file"
    return view


@operator.post("/exports", status_code=202)
def start_export(request: Request, body: ExportIn, response: Response) -> dict[str, Any]:
    """Start an export as a background job (the ledger as Parquet, the log's files, a
    subject's file); follow it at the `Location` given, download it when done."""
    view = acting(request).exports.start(body.kind, _state(request).exports,
                                         subject=body.subject, format=body.format)
    response.headers["Location"] = f"/api/v1/exports/{view['job_id']}"
    return _export_view(view)


@operator.get("/exports")
def exports(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50
            ) -> list[dict[str, Any]]:
    """The latest exports, newest first."""
    return [_export_view(v) for v in acting(request).exports.list(limit)]


@operator.get("/exports/{export_id}")
def export_status(request: Request, export_id: str) -> dict[str, Any]:
    """An export's status and progress; when done, its file's name, size, SHA-256 and
    `download` path."""
    return _export_view(acting(request).exports.get(export_id))


@operator.get("/exports/{export_id}/file", response_class=FileResponse, responses={
    200: {"description": "the export's file, streamed",
          "content": {t: {"schema": {"type": "string", "format": "binary"}}
                      for t in ("application/zip", "application/json", "text/html")}},
    409: {"description": "the export is still running, or failed",
          "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}})
def export_file(request: Request, export_id: str) -> FileResponse:
    """Download a finished export (streamed; `Repr-Digest` carries its SHA-256)."""
    got = acting(request).exports.download(export_id, _state(request).exports)
    digest = base64.b64encode(bytes.fromhex(got.sha256)).decode()
    return FileResponse(got.path, media_type=got.media_type, filename=got.filename,
                        headers={"Repr-Digest": f"sha-256=:{digest}:",
                                 "Cache-Control": "private, no-store"})


@operator.post("/outbox/run")
def outbox_run(request: Request) -> dict[str, Any]:
    """Deliver due notices now (mail and webhooks as configured on the server)."""
    return acting(request).outbox.run()


def mount(app: FastAPI) -> None:
    for r in (health, open_, log, provider, relying, subject, cases, operator):
        app.include_router(r)
