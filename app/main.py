"""The ASGI app, `app.main:app`, at the path servers and other programs use: built in app.web.app."""

from app.web.app import app, create_app

__all__ = ["app", "create_app"]
