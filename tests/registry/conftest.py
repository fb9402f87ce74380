"""The registry tests: an app whose agency is a sandbox of the test's own (its feed is per test)."""

from __future__ import annotations

import pytest

from tests.support.registry import agency_url  # noqa: F401 (a fixture)


@pytest.fixture
def app(make_app, agency_url):  # noqa: F811
    return make_app(AGENCY_API_BASE=agency_url)
