"""The pages over HTTP without a browser: who may see what (the service's table, as for
the API), sessions and CSRF, languages, the catalogues complete, the file downloads."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from socialcredit.principals import Forbidden
from socialcredit.web.session import CSRF_COOKIE, SESSION_COOKIE
from tests.web.conftest import ORG_NAME, USCC, Site

WEB = Path(__file__).resolve().parents[2] / "src" / "socialcredit" / "web"


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def signed_in(site: Site, who: str) -> TestClient:
    c = TestClient(site.app)
    site.signin(c, who)
    return c


def test_public_pages_need_no_sign_in(site: Site) -> None:
    c = TestClient(site.app)
    for path in ["/", "/public", "/rulebooks", "/rulebooks/city/1",
                 "/catalogues/test-catalogue/t1", "/log"]:
        r = c.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    found = c.get("/public", params={"q": USCC.lower()})
    assert ORG_NAME in found.text and f"/public/org/{USCC}" in found.text
    org = c.get(f"/public/org/{USCC}").text
    assert "City list of judgment defaulters" in org and "City credit regulation Art. 12" in org
    assert re.search(r'href="/log\?leaf=\d+"', org)  # the leaf that published the listing


def test_private_pages_send_strangers_to_sign_in(site: Site) -> None:
    c = TestClient(site.app)
    for path in ["/me", "/review", "/operator", "/me/file.html"]:
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=")


def test_signing_in_sets_a_strict_httponly_session_and_a_bad_token_is_refused(
        site: Site) -> None:
    c = TestClient(site.app)
    page = c.get("/signin")
    r = c.post("/signin", data={"token": "nope", "csrf": csrf_of(page.text)})
    assert r.status_code == 401 and "not accepted" in r.text
    r = c.post("/signin", data={"token": site.tokens["alice"], "csrf": csrf_of(page.text)},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me"
    cookies = r.headers.get_list("set-cookie")
    session = next(h for h in cookies if h.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session and "SameSite=strict" in session
    assert site.tokens["alice"] not in session  # the token never reaches a cookie
    assert c.get("/me").status_code == 200


def test_a_forged_session_cookie_is_no_session(site: Site) -> None:
    c = signed_in(site, "alice")
    value = c.cookies[SESSION_COOKIE]
    c.cookies.set(SESSION_COOKIE, value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1])
    assert c.get("/me", follow_redirects=False).status_code == 303


def test_a_revoked_principal_is_signed_out(site: Site) -> None:
    c = signed_in(site, "alice")
    assert c.get("/me").status_code == 200
    site.svc.principals.revoke("alice")
    assert c.get("/me", follow_redirects=False).status_code == 303


def test_a_post_without_the_form_token_is_refused(site: Site) -> None:
    c = signed_in(site, "alice")
    form = c.get("/me/object", params={"record": "court-01:1"})
    for token in (None, "forged", csrf_of(form.text) + "x"):
        data = {"record_id": "court-01:1", "grounds": "not me"}
        if token is not None:
            data["csrf"] = token
        r = c.post("/me/object", data=data)
        assert r.status_code == 403
    assert site.svc.cases.of("alice") == []
    # another visitor's token does not fit this visitor's cookie
    other = TestClient(site.app)
    theirs = csrf_of(other.get("/signin").text)
    assert other.cookies[CSRF_COOKIE] != c.cookies[CSRF_COOKIE]
    r = c.post("/me/object", data={"record_id": "court-01:1", "grounds": "x", "csrf": theirs})
    assert r.status_code == 403
    r = c.post("/me/object", data={"record_id": "court-01:1", "grounds": "not me",
                                    "csrf": csrf_of(form.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert [x["kind"] for x in site.svc.cases.of("alice")] == ["objection"]


def test_a_subject_sees_only_its_own_file(site: Site) -> None:
    bob = signed_in(site, "bob")
    page = bob.get("/me").text
    assert "court-01:1" not in page and "Court finding" not in page
    assert bob.get("/me/object", params={"record": "court-01:1"}).status_code == 404
    # posting for alice's record: the service refuses, as the API does
    form = bob.get("/me").text
    r = bob.post("/me/object", data={"record_id": "court-01:1", "grounds": "x",
                                      "csrf": csrf_of(form)})
    assert r.status_code == 403
    assert site.svc.cases.of("alice") == []
    alice = signed_in(site, "alice")
    case = site.svc.acting_as("alice").cases.object("court-01:1", "not me")
    assert bob.get("/me/appeal", params={"case": case["case_id"]}).status_code == 403
    assert alice.get("/me/appeal", params={"case": case["case_id"]}).status_code == 200


def test_only_reviewers_and_readers_reach_the_desk_and_the_dashboard(site: Site) -> None:
    expect = {"alice": (403, 403), "railway": (403, 403), "court": (403, 403),
              "rev": (200, 403), "arev": (200, 403), "board": (200, 403),
              "aud": (200, 200), "operator": (200, 200)}
    for who, (desk, dash) in expect.items():
        c = signed_in(site, who)
        assert c.get("/review").status_code == desk, who
        assert c.get("/operator").status_code == dash, who
    case = site.svc.acting_as("alice").cases.object("court-01:1", "not me")
    alice = signed_in(site, "alice")
    r = alice.post(f"/review/{case['case_id']}", data={
        "outcome": "voided", "reasons": "mine", "csrf": csrf_of(alice.get("/me").text)})
    assert r.status_code == 403
    assert site.svc.cases.get(case["case_id"])["status"] == "open"


def test_a_reviewer_decides_with_reasons_and_the_subject_sees_it(site: Site) -> None:
    case = site.svc.acting_as("alice").cases.object("court-01:1", "the debt was paid")
    board = signed_in(site, "board")
    desk = board.get("/review").text
    assert case["case_id"] in desk and "the debt was paid" in desk
    r = board.post(f"/review/{case['case_id']}", data={
        "outcome": "voided", "reasons": "", "csrf": csrf_of(desk)})
    assert r.status_code == 422 and "reasons" in r.text
    r = board.post(f"/review/{case['case_id']}", data={
        "outcome": "voided", "reasons": "payment proven", "csrf": csrf_of(desk)},
        follow_redirects=False)
    assert r.status_code == 303
    me = signed_in(site, "alice").get("/me").text
    assert "Decision on your objection: withdrawn after review" in me
    assert "payment proven" in me
    assert re.search(r'class="score">1,000<', me)


def test_consent_is_given_and_revoked_from_the_portal(site: Site) -> None:
    c = signed_in(site, "alice")
    page = c.get("/me").text
    r = c.post("/me/consents", data={"relying_party": "bikes", "purpose": "rental",
                                     "scope": "tier", "expires_at": "2026-12-31",
                                     "csrf": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303
    (grant,) = site.svc.consents.list("alice")
    assert grant["relying_party"] == "bikes" and grant["scope"] == "tier"
    r = c.post(f"/me/consents/{grant['grant_id']}/revoke", data={"csrf": csrf_of(page)},
               follow_redirects=False)
    assert r.status_code == 303
    assert site.svc.consents.list("alice")[0]["revoked_at"] is not None


def test_languages_by_parameter_cookie_and_accept_language(site: Site) -> None:
    c = TestClient(site.app)
    assert '<html lang="en">' in c.get("/").text
    zh = c.get("/", headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
    assert '<html lang="zh-CN">' in zh and "公开名单" in zh
    assert '<html lang="zh-CN">' in c.get("/?lang=zh-CN").text
    assert '<html lang="zh-CN">' in c.get("/").text  # remembered
    assert '<html lang="en">' in c.get("/?lang=en").text


def test_the_file_downloads_as_html_and_pdf(site: Site) -> None:
    c = signed_in(site, "alice")
    r = c.get("/me/file.html")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert "court-01:1" in r.text and "<script" not in r.text
    if shutil.which("chromium") is None:
        pytest.skip("no Chromium here: scripts/test installs it")
    r = c.get("/me/file.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")


def test_every_message_is_translated_into_chinese() -> None:
    """Extraction from the templates and modules finds nothing the zh_CN catalogue lacks,
    and each translation keeps the message's placeholders."""
    found = {msg[2] if isinstance(msg[2], str) else msg[2][0]
             for msg in extract_from_dir(str(WEB), method_map=[
                 ("**.py", "python"), ("**/templates/**.html", "jinja2")],
                 options_map={"**/templates/**.html": {
                     "extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                     "lstrip_blocks": "true"}},
                 keywords={"_": None, "gettext_": None})}
    with (WEB / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    have = {m.id: m.string for m in catalog if m.id}
    assert sorted(found - set(have)) == []
    for msgid, text in have.items():
        assert text, msgid
        assert sorted(re.findall(r"%\(\w+\)s", msgid)) == sorted(
            re.findall(r"%\(\w+\)s", str(text))), msgid


def test_a_large_populations_dashboard_reads_tier_counts_from_the_table(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from socialcredit.web import dashboard

    assert site.svc.standings.tier_counts("city") is None  # nothing materialized yet
    site.svc.population.score_all("city")
    counts = site.svc.standings.tier_counts("city")
    live = [s for s in site.svc.standings.all("city") if s.applies]
    assert counts is not None and counts["subjects"] == len(live)
    assert counts["tiers"] == dict(Counter(s.tier or "—" for s in live))
    assert counts["listings"] == sum(len(s.lists) for s in live) > 0
    with pytest.raises(Forbidden):
        site.svc.acting_as("alice").standings.tier_counts("city")
    monkeypatch.setattr(dashboard, "LIVE_LIMIT", 0)  # as if the population were large
    page = signed_in(site, "operator").get("/operator")
    assert page.status_code == 200
    text = page.text
    assert f"Subjects: {counts['subjects']}." in text
    assert f"Listings in force: {counts['listings']}." in text
    assert "Listings in force over time" not in text  # no live chart for a large one


def test_rotating_the_token_ends_the_sessions_it_opened(site: Site) -> None:
    """A session stands on the token it was opened with: rotation (without grace) ends
    it at the next click; signing in with the new token opens a new one."""
    c = signed_in(site, "alice")
    assert c.get("/me").status_code == 200
    rotated = site.svc.principals.rotate("alice")
    r = c.get("/me", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")
    site.tokens["alice"] = rotated["token"]
    fresh = signed_in(site, "alice")
    assert fresh.get("/me").status_code == 200


def test_a_rotation_with_grace_keeps_the_old_session_until_the_grace_ends(
        site: Site) -> None:
    c = signed_in(site, "alice")
    site.svc.principals.rotate("alice", grace_days=1.0)
    assert c.get("/me").status_code == 200  # the old token still works for a day
    site.svc.principals.revoke("alice")
    assert c.get("/me", follow_redirects=False).status_code == 303


def test_a_session_cookie_naming_another_principals_token_is_no_session(
        site: Site) -> None:
    """Even a validly signed cookie (as if the secret leaked) must name a live token of
    the principal it names: bob's token does not keep a session of alice's open."""
    from starlette.routing import Mount

    web = next(r.app for r in site.app.routes if isinstance(r, Mount) and r.path == "")
    signer = web.state.web.signer  # type: ignore[attr-defined]
    bob_token = site.svc.principals.token_id_of(site.tokens["bob"])
    alice_token = site.svc.principals.token_id_of(site.tokens["alice"])
    assert bob_token is not None and alice_token is not None
    c = TestClient(site.app)
    c.cookies.set(SESSION_COOKIE, signer.session("alice", alice_token))
    assert c.get("/me").status_code == 200  # the signer is the site's own
    c.cookies.set(SESSION_COOKIE, signer.session("alice", bob_token))
    assert c.get("/me", follow_redirects=False).status_code == 303
