from __future__ import annotations

import json

import pytest

from policy.data import PolicyBook, Standard, load_standards


@pytest.fixture(scope="session")
def book() -> PolicyBook:
    return load_standards()


@pytest.fixture(scope="session")
def shanxi(book) -> Standard:
    return book.named("shanxi-2021")


@pytest.fixture
def with_collective(tmp_path) -> Standard:
    """Shanxi 2021 plus an extra policy file giving region 140105 a 2027 collective subsidy of 50 yuan."""
    extra = tmp_path / "policy.json"
    extra.write_text(
        json.dumps(
            {"name": "shanxi-2021", "base": "shanxi-2021", "collective_subsidies_fen": {"140105": {"2027": 5000}}}
        )
    )
    return load_standards(extra).named("shanxi-2021")
