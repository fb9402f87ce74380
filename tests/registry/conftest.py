"""The registry tests: an app whose agency is a sandbox of the test's own (its feed is per test)."""

from __future__ import annotations

import pytest

from tests.support.registry import own_agency


@pytest.fixture
def agency_url():
    with own_agency() as url:
        yield url


@pytest.fixture
def app(make_app, agency_url):
    return make_app(AGENCY_API_BASE=agency_url)
