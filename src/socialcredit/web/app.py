"""The web pages' application: sessions, languages, CSRF, errors, and the page routes.

Every page acts through the service as the signed-in principal (or as the anonymous
public), exactly as the API's routes do, so a page shows nothing the API would refuse:
the service checks the role (service/authz.py) and writes the access log.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from socialcredit.api.auth import RateLimiter, TokenCache, Unauthenticated
from socialcredit.api.problems import status_of
from socialcredit.errors import SocialCreditError
from socialcredit.principals import ANONYMOUS, Principal
from socialcredit.service import Service
from socialcredit.web import i18n
from socialcredit.web.session import (
    CSRF_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    Signer,
    new_seed,
    secret_from_environment,
)

HERE = Path(__file__).parent
#: Where each role lands after signing in.
HOME_OF = {"subject": "/me", "reviewer": "/review", "appeal_reviewer": "/review",
           "operator": "/operator", "auditor": "/operator"}
#: Security headers on every page: no framing, no sniffing, scripts only from here.
HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "same-origin",
           "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                      "style-src 'self'; script-src 'self'; "
                                      "connect-src 'self'; frame-ancestors 'none'; "
                                      "form-action 'self'; base-uri 'none'"}


class SignInNeeded(SocialCreditError):
    code = "unauthenticated"


@dataclass
class Page:
    """One request to a page: who asks, in which language, the form it posted, and the
    cookies its response sets."""

    web: Web
    request: Request
    lang: str
    form: FormData | None = None
    principal: Principal | None = None
    cookies: dict[str, tuple[str, int | None]] = field(default_factory=dict)

    # -- who acts ------------------------------------------------------------------

    def acting(self) -> Service:
        """The service as the signed-in principal (a sign-in page otherwise)."""
        if self.principal is None:
            raise SignInNeeded("sign in to see this page")
        self.web.limits.take(self.principal.id)
        return self.web.svc.acting_as(self.principal)

    def public(self) -> Service:
        client = self.request.client.host if self.request.client is not None else "unknown"
        self.web.limits.take(f"public:{client}")
        return self.web.svc.acting_as(ANONYMOUS)

    # -- forms ---------------------------------------------------------------------

    def field(self, name: str, default: str = "") -> str:
        if self.form is None:
            return default
        v = self.form.get(name)
        return v.strip() if isinstance(v, str) else default

    def files(self, name: str) -> list[tuple[str, bytes]]:
        if self.form is None:
            return []
        out = []
        for v in self.form.getlist(name):
            if isinstance(v, UploadFile) and v.filename:
                out.append((v.filename, v.file.read()))
        return out

    def csrf(self) -> str:
        seed = self.request.cookies.get(CSRF_COOKIE)
        if not seed:
            seed = self.cookies.get(CSRF_COOKIE, (None, None))[0] or new_seed()
            self.cookies[CSRF_COOKIE] = (seed, None)
        return self.web.signer.csrf(seed)

    # -- answers -------------------------------------------------------------------

    def render(self, template: str, status_code: int = 200, **context: Any) -> Response:
        t = self.web.env.get_template(template)
        html = t.render(page=self, lang=self.lang, me=self.principal,
                        languages=i18n.NAMES, csrf_token=self.csrf(), **context)
        return self.finish(HTMLResponse(html, status_code=status_code))

    def redirect(self, to: str) -> Response:
        return self.finish(RedirectResponse(to, status_code=303))

    def finish(self, response: Response) -> Response:
        for name, (value, max_age) in self.cookies.items():
            if value == "":
                response.delete_cookie(name, path="/", httponly=True, samesite="strict")
            else:
                response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                                    samesite="strict",
                                    secure=self.request.url.scheme == "https")
        for k, v in HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    def url(self, path: str, **params: str) -> str:
        q = "&".join(f"{k}={quote(v)}" for k, v in params.items() if v)
        return path + ("?" + q if q else "")


Handler = Callable[[Page], Response]


class Web:
    def __init__(self, svc: Service, *, tokens: TokenCache | None = None,
                 limits: RateLimiter | None = None, secret: bytes | None = None) -> None:
        self.svc = svc
        self.tokens = tokens if tokens is not None else TokenCache()
        self.limits = limits if limits is not None else RateLimiter(rate=1000.0, burst=2000.0)
        self.signer = Signer(secret if secret is not None else secret_from_environment())
        self.env = Environment(loader=PackageLoader("socialcredit.web", "templates"),
                               autoescape=select_autoescape(default=True),
                               extensions=["jinja2.ext.i18n"], trim_blocks=True,
                               lstrip_blocks=True)
        self.env.install_gettext_callables(i18n.gettext_, i18n.ngettext_,  # type: ignore[attr-defined]
                                           newstyle=True)
        self.env.filters.update(when=i18n.when, day=i18n.day, num=i18n.number,
                                signed=i18n.signed, pct=i18n.percent)
        self.env.globals["svg"] = Markup

    def principal_of(self, request: Request) -> Principal | None:
        session = self.signer.read(request.cookies.get(SESSION_COOKIE))
        if session is None:
            return None
        try:
            return self.svc.principals.for_session(session.principal, session.token_id)
        except SocialCreditError:
            return None  # revoked, rotated away, expired or gone: signed out

    def page(self, handler: Handler, *, post: bool = False) -> Callable[[Request], Any]:
        """A route endpoint around a page handler: language, session, CSRF, errors."""

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            asked = request.query_params.get("lang")
            lang = i18n.negotiate(asked, request.cookies.get(LANG_COOKIE),
                                  request.headers.get("accept-language"))
            form = await request.form(max_files=10) if request.method == "POST" else None

            def run() -> Response:
                i18n.current.set(lang)
                page = Page(self, request, lang, form, self.principal_of(request))
                if asked in i18n.LANGUAGES:
                    page.cookies[LANG_COOKIE] = (lang, 365 * 86400)
                if request.method == "POST" and not self.signer.csrf_ok(
                        request.cookies.get(CSRF_COOKIE), page.field("csrf")):
                    return page.render("error.html", 403, status=403,
                                       message=i18n.gettext_(
                                           "This form has expired or did not come from this "
                                           "site. Go back, reload the page and try again."))
                try:
                    return handler(page)
                except SignInNeeded:
                    return page.redirect(page.url("/signin", next=request.url.path))
                except SocialCreditError as e:
                    status = 401 if isinstance(e, Unauthenticated) else status_of(e.code)
                    return page.render("error.html", status, status=status, message=str(e),
                                       code=e.code)

            return await run_in_threadpool(run)

        return endpoint

    def app(self) -> Starlette:
        from socialcredit.web import dashboard, desk, portal, public

        routes: list[Route | Mount] = [
            Route("/", self.page(public.home)),
            Route("/signin", self.page(signin_form)),
            Route("/signin", self.page(signin, post=True), methods=["POST"]),
            Route("/signout", self.page(signout, post=True), methods=["POST"]),
        ]
        for module in (portal, public, desk, dashboard):
            for path, handler, methods in module.ROUTES:
                routes.append(Route(path, self.page(handler, post="POST" in methods),
                                    methods=methods))
        routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
        app = Starlette(routes=routes)
        app.state.web = self
        return app


def signin_form(page: Page) -> Response:
    return page.render("signin.html", next=page.request.query_params.get("next", ""))


def signin(page: Page) -> Response:
    token = page.field("token")
    try:
        principal = page.web.tokens.principal(page.web.svc, f"Bearer {token}")
    except Unauthenticated:
        return page.render("signin.html", 401, next=page.field("next"),
                           error=i18n.gettext_("That token was not accepted. Check it and "
                                               "try again."))
    page.web.limits.take(principal.id)
    token_id = page.web.svc.principals.token_id_of(token)
    assert token_id is not None  # the token was just verified, so it is well-formed
    page.cookies[SESSION_COOKIE] = (page.web.signer.session(principal.id, token_id), None)
    page.cookies[CSRF_COOKIE] = (new_seed(), None)  # a new session, a new form token
    nxt = page.field("next")
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = HOME_OF.get(principal.role, "/")
    return page.redirect(nxt)


def signout(page: Page) -> Response:
    page.cookies[SESSION_COOKIE] = ("", None)
    return page.redirect("/")


def create_web_app(service: Service, *, tokens: TokenCache | None = None,
                   limits: RateLimiter | None = None, secret: bytes | None = None
                   ) -> Starlette:
    """The web pages over `service` (the API's, when mounted by it: same token cache and
    rate limits). `secret` signs sessions and form tokens (default: from the
    environment, else random per process)."""
    return Web(service, tokens=tokens, limits=limits, secret=secret).app()


__all__ = ["HOME_OF", "Page", "Web", "create_web_app"]
