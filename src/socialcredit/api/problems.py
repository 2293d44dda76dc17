"""Errors as RFC 9457 problem details carrying the service's stable error codes.

The service raises one exception type with a code (errors.CODES); this table is the one
place a code becomes an HTTP status, as cli/errors.py is the one place it becomes an
exit status. An unknown code is a client error (400) unless it names a server fault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from socialcredit.errors import CODES, SocialCreditError

PROBLEM = "application/problem+json"
TYPE_BASE = "https://socialcredit.example/problems/"  # documentation anchors, not fetched

STATUS_BY_CODE: dict[str, int] = {
    "unauthenticated": 401,
    "forbidden": 403,
    "consent.required": 403,
    "not_found": 404,
    "program.unknown": 404,
    "ledger.missing": 503,
    "ledger.outdated": 503,
    "ledger.too_new": 503,
    "log.missing": 404,
    "idempotency.conflict": 409,
    "ledger.exists": 409,
    "principal.exists": 409,
    "provider.conflict": 409,
    "catalogue.conflict": 409,
    "rulebook.conflict": 409,
    "case.closed": 409,
    "export.not_ready": 409,
    "database.conflict": 409,
    "request.too_large": 413,
    "ingest.rows_invalid": 422,
    "ingest.unreadable": 422,
    "rulebook.invalid": 422,
    "rulebook.refused": 422,
    "rulebook.lint_errors": 422,
    "catalogue.invalid": 422,
    "catalogue.refused": 422,
    "catalogue.missing": 422,
    "consent.invalid": 422,
    "case.invalid": 422,
    "repair.ineligible": 422,
    "principal.invalid": 422,
    "provider.invalid": 422,
    "provider.unknown_role": 422,
    "program.ambiguous": 422,
    "program.not_in_force": 422,
    "rate_limited": 429,
    "error": 500,
    "job.failed": 500,
    "database.failed": 503,
    "database.busy": 503,
    "engine.unavailable": 503,
}


class Problem(BaseModel):
    """An RFC 9457 problem document as this API writes it (the OpenAPI description of
    every error answer)."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="a URI naming the problem's kind (ends with `code`)")
    title: str = Field(description="what kind of problem, in words")
    status: int = Field(description="the HTTP status")
    detail: str = Field(description="what went wrong in this request")
    code: str = Field(description="the stable error code (as on the command line)")
    instance: str | None = Field(None, description="the request path")
    errors: list[dict[str, Any]] | None = Field(
        None, description="each problem located: a row index and field, or a parameter")


_WHY = {400: "a malformed parameter or another client error",
        401: "no valid bearer token (`unauthenticated`)",
        403: "the principal's role may not do this, or the subject's consent is missing",
        404: "no such thing (or program)",
        409: "a conflict with what is stored (an idempotency key, a closed case …)",
        413: "the body is too large (`request.too_large`)",
        422: "a body or parameter the schema refuses, bad rows, a refused document",
        429: "too many requests from this principal (`rate_limited`, with Retry-After)",
        503: "the database is busy (retry) or not this release's (`db upgrade`)"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for problem answers with these statuses."""
    return {s: {"description": _WHY[s],
                "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for s in statuses}


def document_problems(doc: dict[str, Any]) -> dict[str, Any]:
    """Add the Problem schema the responses above refer to to an OpenAPI document."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    return doc


#: What any route may answer: every request passes the body limit, the rate limit and
#: the database (busy or outdated), and parameters are checked.
PUBLIC_PROBLEMS = problem_responses(400, 404, 413, 422, 429, 503)
#: What a route behind a token may answer besides.
PRIVATE_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 413, 422, 429, 503)


def status_of(code: str) -> int:
    return STATUS_BY_CODE.get(code, 400)


def problem(status: int, code: str, detail: str, *, instance: str | None = None,
            errors: Sequence[Mapping[str, Any]] = (),
            headers: Mapping[str, str] | None = None) -> JSONResponse:
    """One problem document: `type` and `title` from the code, `detail` the message,
    `code` the stable error code, `errors` where each problem is (row index, field)."""
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": CODES.get(code, code),
                            "status": status, "detail": detail, "code": code}
    if instance is not None:
        body["instance"] = instance
    if errors:
        body["errors"] = [dict(e) for e in errors]
    return JSONResponse(body, status_code=status, media_type=PROBLEM,
                        headers=dict(headers or {}))


async def on_service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SocialCreditError)
    status = status_of(exc.code)
    headers = {"Retry-After": "1"} if exc.code in ("database.busy", "rate_limited") else None
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="socialcredit"'}
    return problem(status, exc.code, str(exc), instance=request.url.path,
                   errors=exc.details, headers=headers)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A request the schema refuses: every problem located by where it is and field."""
    assert isinstance(exc, RequestValidationError)
    errors = [{"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
              for e in exc.errors()]
    first = errors[0] if errors else {"where": "request", "message": "invalid"}
    return problem(422, "usage", f"{first['where']}: {first['message']}",
                   instance=request.url.path, errors=errors)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {401: "unauthenticated", 403: "forbidden", 404: "not_found",
            405: "usage", 413: "request.too_large"}.get(exc.status_code, "error")
    return problem(exc.status_code, code, str(exc.detail), instance=request.url.path,
                   headers=getattr(exc, "headers", None))
