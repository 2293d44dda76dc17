"""Web pages for people: the subject's portal, public lookup, the review desk and the
operator's dashboard, server-rendered (Jinja2, SVG charts), in English and Chinese.

Mounted at `/` by the API app (`create_app(web=True)`, `socialcredit serve`), they act
through the same service layer with the same principals as the API.
"""

from socialcredit.web.app import create_web_app

__all__ = ["create_web_app"]
