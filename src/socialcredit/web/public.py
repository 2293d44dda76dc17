"""Pages for anyone: search the public lists by name or USCC, an organization's page,
the published rulebooks and catalogues as documents, and the public log with a proof
checker that runs in the browser."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from socialcredit.errors import SocialCreditError
from socialcredit.service import Service
from socialcredit.web import i18n

if TYPE_CHECKING:
    from socialcredit.web.app import Page

_ = i18n.gettext_
#: Leaves scanned (newest first) for a listing's log entry at most.
SCAN_LEAVES = 200_000


def home(page: Page) -> Response:
    svc = page.public()
    return page.render("home.html", lists=svc.public.lists())


def search(page: Page) -> Response:
    svc = page.public()
    q = page.request.query_params.get("q", "").strip()[:200]
    after = page.request.query_params.get("after") or None
    found = svc.public.entries(query=q or None, after=after, limit=50) if q or after else None
    by_subject: dict[str, list[dict[str, Any]]] = {}
    for item in (found or {}).get("items", []):
        by_subject.setdefault(item["subject"], []).append(item)
    return page.render("search.html", q=q, found=found, by_subject=by_subject,
                       lists=svc.public.lists())


def listing_leaf(svc: Service, item: dict[str, Any]) -> int | None:
    """The log leaf that published a listing: the `list.entry` event naming its record,
    program and list (the public log names no subject, only the record)."""
    why = item.get("why") or {}
    record_id = why.get("record_id")
    if record_id is None:
        return None
    size = svc.log.signed_size()
    start = max(0, size - SCAN_LEAVES)
    for index, data, _h in svc.log.leaves(start, size):
        if b'"list.entry"' not in data or record_id.encode() not in data:
            continue
        event = json.loads(data)
        if event.get("kind") == "list.entry" and record_id in event.get("reasons", []) \
                and event.get("program") == item["program"] \
                and event.get("list") == item["list"]:
            return index
    return None


def organization(page: Page) -> Response:
    svc = page.public()
    org = svc.public.organization(page.request.path_params["subject"])
    for item in org["listings"]:
        item["leaf"] = listing_leaf(svc, item)
    return page.render("organization.html", org=org)


def rulebooks(page: Page) -> Response:
    svc = page.public()
    return page.render("rulebooks.html", versions=svc.programs.versions(),
                       catalogues=svc.catalogues.list())


def rulebook(page: Page) -> Response:
    svc = page.public()
    program, version = page.request.path_params["program"], page.request.path_params["version"]
    pv = next((v for v in svc.programs.versions(program) if v.version == version), None)
    if pv is None:
        raise SocialCreditError(_("No such rulebook version is published."), code="not_found")
    return page.render("rulebook.html", pv=pv, rb=pv.rulebook)


def catalogue(page: Page) -> Response:
    svc = page.public()
    cat = svc.catalogues.get(page.request.path_params["catalogue"],
                             page.request.path_params["version"])
    return page.render("catalogue.html", cat=cat)


def log(page: Page) -> Response:
    svc = page.public()
    try:
        cp = svc.log.checkpoint()
        note: str | None = cp.note
        size = cp.size
    except SocialCreditError:
        note, size = None, 0
    leaf = page.request.query_params.get("leaf", "")
    return page.render("log.html", note=note, size=size, pubkey=svc.log.pubkey(),
                       leaf=leaf if leaf.isdigit() else "")


ROUTES = [
    ("/public", search, ["GET"]),
    ("/public/org/{subject}", organization, ["GET"]),
    ("/rulebooks", rulebooks, ["GET"]),
    ("/rulebooks/{program}/{version}", rulebook, ["GET"]),
    ("/catalogues/{catalogue}/{version}", catalogue, ["GET"]),
    ("/log", log, ["GET"]),
]
