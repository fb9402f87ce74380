"""Tests that need a local tool (Chromium, Redis) skip on a laptop without it, but never in CI."""

from __future__ import annotations

import os

import pytest


def unavailable(reason: str) -> None:
    """A missing local tool skips the test on a laptop and fails it in CI, where it must run."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)
