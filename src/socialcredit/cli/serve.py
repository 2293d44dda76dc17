"""`socialcredit serve`: the HTTP API (and the web pages, where installed) on one port."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from socialcredit.cli.options import DbOpt
from socialcredit.errors import SocialCreditError


def serve(db: DbOpt = None,
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
          workers: Annotated[int, typer.Option(
              min=1, max=64, help="Worker processes (each with its own token cache and "
              "rate limits).")] = 1,
          rate: Annotated[float, typer.Option(
              min=0.1, help="Requests a second each principal may make, on average.")
          ] = 1000.0,
          web: Annotated[bool, typer.Option(
              "--web/--no-web", help="Serve the web pages at / (the subject's portal, public "
              "lookup, the review desk, the dashboard).")] = True,
          exports: Annotated[Path | None, typer.Option(
              help="Directory for exports made over HTTP (default: socialcredit-exports "
              "in the system's temporary directory).")] = None) -> None:
    """Serve the HTTP API: every party acts over the network, authenticated by bearer
    tokens (`socialcredit principal add`), within its role. OpenAPI at /openapi.json,
    the guide at /docs, health at /healthz and /readyz, metrics at /metrics; one JSON
    access-log line per request on standard error. With the web pages (the default), people
    sign in at /signin with the same tokens."""
    try:
        import uvicorn

        from socialcredit.api.app import configure_access_log, create_app, settle_heap
        from socialcredit.api.coalesce import GatheringHttpToolsProtocol
    except ImportError as e:
        raise SocialCreditError(f"the HTTP API needs its extra: pip install "
                                f"'socialcredit[api]' ({e.name} is missing)",
                                code="engine.unavailable") from None
    import os

    from socialcredit.service import Service

    svc = Service.open(db)  # a missing or outdated ledger is an error here, not per request
    sqlite = svc.ledger.engine.dialect.name == "sqlite"
    svc.close()
    if workers > 1 and sqlite:
        # measured: two workers on one ledger file serve no more than one (they take
        # turns on its write lock) and answer some requests 503 under load
        typer.echo(f"warning: {workers} workers on a SQLite ledger take turns on its one "
                   "write lock: they serve no more decisions than one worker, and under "
                   "load some requests are answered 503 (database.busy). Keep one worker "
                   "on SQLite; run several on PostgreSQL.", err=True)
    if web:
        try:
            import socialcredit.web  # noqa: F401
        except ImportError as e:
            raise SocialCreditError(f"the web pages need their extra: pip install "
                                    f"'socialcredit[web]' ({e.name} is missing)",
                                    code="engine.unavailable") from None
        import secrets

        from socialcredit.web.session import SECRET_ENV

        # one secret for every worker, so a session signed by one is read by all
        os.environ.setdefault(SECRET_ENV, secrets.token_hex(32))
    configure_access_log()
    if workers == 1:
        app = create_app(db, rate=rate, web=web, exports=exports)
        settle_heap()
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                    http=GatheringHttpToolsProtocol)
        return
    os.environ["SOCIALCREDIT_WEB"] = "1" if web else "0"
    if exports is not None:
        os.environ["SOCIALCREDIT_EXPORTS"] = str(exports.resolve())
    if db is not None:
        os.environ["SOCIALCREDIT_DB"] = db
    os.environ["SOCIALCREDIT_API_RATE"] = str(rate)
    uvicorn.run("socialcredit.api.app:from_environment", factory=True, host=host, port=port,
                workers=workers, log_level="warning", access_log=False,
                http=GatheringHttpToolsProtocol)
