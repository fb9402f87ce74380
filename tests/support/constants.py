"""Constants every part of the suite shares: the test clock, the sandbox's tax bureau key, the notify path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
# Inside the 2027 collection window (March, day 2), Asia/Shanghai.
DEFAULT_NOW = "2027-03-02T10:00:00+08:00"
NOW = dt.datetime.fromisoformat(DEFAULT_NOW)
SANDBOX_TAX_KEY = "sandbox-tax-key"  # the API key the test apps and the sandbox share
DEMO_POLICY = str(ROOT / "integrations" / "sandbox" / "demo_policy.json")
NOTIFY_PATH = "/api/v1/payments/tax-bureau/notify"
