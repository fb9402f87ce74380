"""No cookie sessions: the API is stateless (bearer tokens, API.md), so no request reads or signs a
session cookie. Flask's null session answers reads as empty and refuses writes."""

from __future__ import annotations

from flask import Flask
from flask.sessions import SessionInterface


class NoSessions(SessionInterface):
    def open_session(self, app, request):
        return None  # Flask then uses its null session

    def save_session(self, app, session, response) -> None:
        return None


def init_app(app: Flask) -> None:
    app.session_interface = NoSessions()
