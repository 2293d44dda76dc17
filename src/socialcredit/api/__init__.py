"""The HTTP API: every party acts over the network, through the same service layer as
the command line (a face: it never reaches the ledger or the rights domain directly).

`create_app(db_url)` builds the ASGI application; `socialcredit serve` runs it under
uvicorn. docs/api.md is the guide; `/openapi.json` is the contract.
"""

from socialcredit.api.app import create_app

__all__ = ["create_app"]
