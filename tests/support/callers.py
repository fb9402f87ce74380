"""The caller set of a resident-scoped route (POLICY.md R14): the resident themself, a stranger, an
unverified user, and supporters whose links are active, pending and removed.

Only "self" and "active" may act for the resident; every other caller must get 404 `not_found`.
"""

from __future__ import annotations

import datetime as dt

from models import Resident, WeChatUser
from tests.support import factories

SUPPORTER_STATUSES = ("active", "pending", "removed")
CALLERS = ("self", "stranger", "unverified", *SUPPORTER_STATUSES)
OUTSIDERS = ("stranger", "unverified", "pending", "removed")  # may not act for the resident


def stranger() -> WeChatUser:
    """A verified user bound to someone else (flushed, not committed); needs an app context."""
    return factories.user(factories.resident(name="李四"))


def caller_users(owner: Resident) -> dict[str, WeChatUser]:
    """The WeChat user of each caller around `owner`, by CALLERS name (flushed, not committed); needs an
    app context. Each supporter is a resident of their own, linked to `owner` with that status."""
    users = {"self": factories.user(owner), "stranger": stranger(), "unverified": factories.user()}
    for status in SUPPORTER_STATUSES:
        supporter = factories.resident(name="周丽", birth_date=dt.date(1990, 1, 1))
        factories.link(supporter, owner, status=status)
        users[status] = factories.user(supporter)
    return users


def caller_headers(owner: Resident) -> dict[str, dict]:
    """Auth headers of each caller around `owner` (`caller_users`), issued at the app's current time."""
    return {who: factories.auth_header(user) for who, user in caller_users(owner).items()}
