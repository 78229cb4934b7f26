"""Faithful Canvas LMS REST API simulator (ASGI, Starlette request/response) for lmsync tests.

Quick use::

    from connectors.canvas.simulator import tiny_canvas_site, create_app, run_in_thread, ADMIN_TOKEN
    site = tiny_canvas_site()
    with run_in_thread(create_app(site)) as base:
        httpx.get(f"{base}/api/v1/accounts/self/users", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

Wire behaviour (pagination, throttling, errors, string ids) follows canvas-lms; see PROTOCOL.md.
"""

from ._app import ROUTES, CanvasApp, create_app
from ._model import PERMISSIONS, Token
from ._paginate import MAX_PER_PAGE, PER_PAGE
from ._server import main, run_in_thread
from ._site import BASE_TIME, CanvasSite, ThrottleConfig
from ._tiny import TINY_NOW, tiny_canvas_site
from ._tokens import (ADMIN_TOKEN, EXPIRED_TOKEN, RESTRICTED_PERMISSIONS, RESTRICTED_TOKEN, STUDENT_TOKEN,
                      TEACHER_TOKEN)

__all__ = [
    "CanvasApp", "create_app", "ROUTES", "PERMISSIONS", "Token", "PER_PAGE", "MAX_PER_PAGE", "main",
    "run_in_thread", "BASE_TIME", "CanvasSite", "ThrottleConfig", "TINY_NOW", "tiny_canvas_site",
    "ADMIN_TOKEN", "EXPIRED_TOKEN", "RESTRICTED_PERMISSIONS", "RESTRICTED_TOKEN", "STUDENT_TOKEN",
    "TEACHER_TOKEN",
]
