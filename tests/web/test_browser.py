"""The pages in a real browser: Debian's Chromium driven by Playwright against the app
under uvicorn on 127.0.0.1. A subject objects, a reviewer decides, the subject sees the
outcome; the public finds an organization by its USCC and checks the proof that its
listing was published, in the browser; every page in Chinese has no English left; axe
finds no serious accessibility violation. Screenshots of every page go to
artifacts/web/ (not committed) for a reviewer to look at."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from tests.web.conftest import ORG_NAME, USCC, Site

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SOCIALCREDIT_ARTIFACTS", ROOT / "artifacts")) / "web"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
POT = ROOT / "src" / "socialcredit" / "web" / "locale" / "messages.pot"
CHROMIUM = os.environ.get("SOCIALCREDIT_CHROMIUM") or shutil.which("chromium") or \
    "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

sync_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():  # scripts/test installs Debian's chromium
    pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/test (it installs Debian's "
                "chromium)", pytrace=False)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Any, site_server: str) -> Iterator[Any]:
    contexts = []

    def make(lang: str = "en") -> Any:
        ctx = browser.new_context(base_url=site_server, locale=lang, bypass_csp=True,
                                  viewport={"width": 1200, "height": 900})
        ctx.set_default_timeout(20_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, site: Site, who: str) -> None:
    page.goto("/signin")
    page.locator("#token").fill(site.tokens[who])  # by id: the label is in the page's language
    page.locator("form[action='/signin'] button[type=submit]").click()
    page.wait_for_load_state()


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()


def axe(page: Any, name: str) -> None:
    """axe-core in the page: no serious or critical violation (WCAG 2.x A/AA rules)."""
    assert AXE.exists(), "axe-core is missing: scripts/test installs it with npm"
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{name}: {bad}"


def test_object_review_and_see_the_outcome(site: Site, new_page: Any) -> None:
    page = new_page()
    sign_in(page, site, "alice")
    assert page.url.endswith("/me")
    explained = page.locator("li.contribution[data-record='court-01:1']")
    text = explained.inner_text()
    assert "Court finding of refusal to perform" in text and "court-01" in text
    assert "It stops counting on" in text and "−100" in text
    assert page.locator("strong.score").first.inner_text() == "900"
    assert page.locator("svg.chart").count() >= 1
    shot(page, "portal-before")
    axe(page, "portal")
    page.get_by_role("link", name="Object court-01:1").click()
    assert "Deadlines" in page.content()
    page.get_by_label("Your grounds: why is the record wrong?").fill(
        "I paid the judgment debt on 3 January; the court's receipt is attached.")
    page.set_input_files("#attachments", files=[{"name": "receipt.txt",
                                                 "mimeType": "text/plain",
                                                 "buffer": b"court receipt 2026-01-03"}])
    shot(page, "object-form")
    axe(page, "object form")
    page.get_by_role("button", name="File the objection").click()
    page.wait_for_load_state()
    assert "Received: case obj-" in page.content()
    case_id = page.locator("tr.case").first.get_attribute("data-case")
    assert case_id and page.locator("tr.case").first.get_attribute("data-status") == "open"
    sign_out(page)

    sign_in(page, site, "board")
    assert page.url.endswith("/review")
    card = page.locator(f"article.case[data-case='{case_id}']")
    assert "I paid the judgment debt" in card.inner_text()
    assert "receipt.txt" in card.inner_text() and "left (deadline" in card.inner_text()
    shot(page, "review-desk")
    axe(page, "review desk")
    card.get_by_label("Reasons (required, sent to the subject)").fill(
        "The court confirms the debt was paid before the finding was reported.")
    card.get_by_role("button", name="Decide: withdrawn after review").click()
    page.wait_for_load_state()
    assert f"Decided: case {case_id}." in page.content()
    sign_out(page)

    sign_in(page, site, "alice")
    notice = page.locator("li.notice[data-kind='case.outcome']").first
    assert "Decision on your objection: withdrawn after review" in notice.inner_text()
    assert "The court confirms the debt was paid" in notice.inner_text()
    assert page.locator("strong.score").first.inner_text() == "1,000"
    assert page.locator("li.contribution").count() == 0
    shot(page, "portal-after")


def test_public_lookup_by_uscc_and_the_proof_checker(site: Site, new_page: Any) -> None:
    page = new_page()
    page.goto("/")
    shot(page, "home")
    axe(page, "home")
    page.get_by_label("Name or Unified Social Credit Code").fill(USCC)
    page.get_by_role("button", name="Search the public lists").click()
    page.wait_for_load_state()
    shot(page, "search")
    axe(page, "search")
    page.get_by_role("link", name=ORG_NAME).click()
    page.wait_for_load_state()
    assert "City list of judgment defaulters" in page.content()
    shot(page, "organization")
    axe(page, "organization")
    page.get_by_role("link", name=re.compile("check the proof")).click()
    page.wait_for_load_state()
    verdict = page.locator("#verdict")
    page.wait_for_function("document.getElementById('leaf-data').value.length > 0")
    assert '"list.entry"' in page.locator("#leaf-data").input_value()
    page.get_by_role("button", name="Check the proof").click()
    page.wait_for_function("document.getElementById('verdict').dataset.result !== undefined")
    assert verdict.get_attribute("data-result") == "valid", verdict.inner_text()
    shot(page, "log-valid")
    axe(page, "log")
    # one byte changed in the entry: the checker must say no, whatever the server says
    data = page.locator("#leaf-data").input_value()
    page.locator("#leaf-data").fill(data.replace("city_defaulters", "city_defaulterz"))
    page.evaluate("delete document.getElementById('verdict').dataset.result")
    page.get_by_role("button", name="Check the proof").click()
    page.wait_for_function("document.getElementById('verdict').dataset.result === 'invalid'")
    # and a changed proof hash too
    # empty the fields first, so that the wait below sees the load finish (else the
    # load could overwrite the changed proof after it is typed)
    page.locator("#leaf-data").fill("")
    page.locator("#proof").fill("")
    page.get_by_role("button", name="Load this entry and its proof from the log").click()
    page.wait_for_function("document.getElementById('proof').value.length > 0"
                           " && document.getElementById('leaf-data').value.length > 0")
    page.evaluate("delete document.getElementById('verdict').dataset.result")
    proof = page.locator("#proof").input_value().splitlines()
    assert proof, "a one-leaf tree would have an empty proof"
    first = proof[0]
    proof[0] = ("0" if first[0] != "0" else "1") + first[1:]
    page.locator("#proof").fill("\n".join(proof))
    page.get_by_role("button", name="Check the proof").click()
    page.wait_for_function("document.getElementById('verdict').dataset.result === 'invalid'")
    shot(page, "log-tampered")
    assert page.locator("#signature").get_attribute("data-result") in ("valid", "unknown")
    for path, name in [("/rulebooks", "rulebooks"), ("/rulebooks/city/1", "rulebook"),
                       ("/catalogues/test-catalogue/t1", "catalogue")]:
        page.goto(path)
        shot(page, name)
        axe(page, name)


def english_patterns() -> list[re.Pattern[str]]:
    """Each English message with letters in its fixed text, as a pattern over a whole
    text node (placeholders match anything)."""
    with POT.open("rb") as f:
        ids = [m.id for m in read_po(f) if m.id and isinstance(m.id, str)]
    out = []
    for msgid in ids:
        fixed = re.split(r"%\(\w+\)s", msgid)
        if not any(re.search(r"[A-Za-z]{2,}", part) for part in fixed):
            continue
        out.append(re.compile(".*?".join(re.escape(p) for p in fixed), re.S))
    return out


VISIBLE_TEXT = """() => {
    const out = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walk.nextNode()) {
        const n = walk.currentNode, el = n.parentElement;
        if (!el || ['SCRIPT', 'STYLE', 'TEXTAREA'].includes(el.tagName)) continue;
        if (el.closest('[lang]:not(html)') && el.closest('[lang]').lang !== 'zh-CN') continue;
        if (el.closest('[translate="no"]')) continue;  // data: ids, provider roles
        const t = n.textContent.trim();
        if (t) out.push(t);
    }
    for (const el of document.querySelectorAll('[aria-label],[title],[placeholder]'))
        for (const a of ['aria-label', 'title', 'placeholder'])
            if (el.getAttribute(a)) out.push(el.getAttribute(a).trim());
    return out;
}"""


def test_every_page_in_chinese_has_no_english_left(site: Site, new_page: Any) -> None:
    patterns = english_patterns()
    case = site.svc.acting_as("alice").cases.object("court-01:1", "not mine")
    pages = {None: ["/", "/public", f"/public?q={USCC}", f"/public/org/{USCC}",
                    "/rulebooks", "/rulebooks/city/1", "/catalogues/test-catalogue/t1",
                    "/log", "/signin"],
             "alice": ["/me", "/me/object?record=court-01:1", "/me/repair?record=court-01:1"],
             "board": ["/review"], "operator": ["/operator"]}
    found: dict[str, list[str]] = {}
    for who, paths in pages.items():
        page = new_page("zh-CN")
        if who is not None:
            sign_in(page, site, who)
        for path in paths:
            page.goto(path + ("&" if "?" in path else "?") + "lang=zh-CN")
            assert page.locator("html").get_attribute("lang") == "zh-CN"
            texts = page.evaluate(VISIBLE_TEXT)
            english = [t for t in texts
                       if any(p.fullmatch(t) for p in patterns)
                       or any(p.search(t) and p.pattern.count(" ") >= 2 for p in patterns)]
            if english:
                found[path] = english
            name = "zh-" + (re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home")
            shot(page, name)
    assert found == {}
    assert case["case_id"]


def test_the_operator_dashboard_renders_and_is_accessible(site: Site, new_page: Any) -> None:
    page = new_page()
    sign_in(page, site, "operator")
    assert page.url.endswith("/operator")
    assert page.locator("svg.chart").count() >= 1
    assert "court-01" in page.content()
    shot(page, "dashboard")
    axe(page, "dashboard")
    page.goto("/signin")
    axe(page, "sign in")
