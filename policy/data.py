"""Policy data: standards with an effective date, loaded from JSON and validated (POLICY.md).

Every number of the policy lives here as data, never as a literal in the rules. A file holds one
standard object, a list of them, or `{"standards": [...]}`. Standards are merged by name in load
order (shipped files first, then the extra files such as `POLICY_FILE`): a later entry with the same
name replaces the earlier one, and an entry with `"base": "<name>"` starts from that standard's
fields and overrides only the ones it gives (e.g. a new year's tiers, or a region's collective
subsidies).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy.standard import AgeSupplement, Standard, Tier, WindowSpec
from policy.validation import PolicyDataError, parse_standard

__all__ = ["AgeSupplement", "PolicyBook", "PolicyDataError", "Standard", "Tier", "WindowSpec", "load_standards"]

STANDARDS_DIR = Path(__file__).with_name("standards")


@dataclass(frozen=True)
class PolicyBook:
    """All known standards, ascending by effective date."""

    standards: tuple[Standard, ...]

    def standard_for(self, day: dt.date) -> Standard:
        """The standard in force on `day` (a local date): the latest with effective_from <= day."""
        if isinstance(day, dt.datetime):
            raise TypeError("standard_for takes the local date, not a datetime")
        in_force = [s for s in self.standards if s.effective_from <= day]
        if not in_force:
            raise LookupError(f"no policy standard is in force on {day.isoformat()}")
        return in_force[-1]

    def named(self, name: str) -> Standard:
        for standard in self.standards:
            if standard.name == name:
                return standard
        raise KeyError(f"no policy standard named {name!r}")


def load_standards(paths: Iterable[str | Path] | str | Path | None = None) -> PolicyBook:
    """The shipped standards (policy/standards/*.json) plus the extra files, validated."""
    extra = [paths] if isinstance(paths, (str, Path)) else list(paths or [])
    raws: dict[str, dict[str, Any]] = {}
    origins: dict[str, Path] = {}
    for path in [*sorted(STANDARDS_DIR.glob("*.json")), *map(Path, extra)]:
        for index, entry in enumerate(_entries(path)):
            name = _entry_name(path, index, entry)
            raws[name] = _merged(path, name, entry, raws)
            origins[name] = path
    standards = sorted((_validated(origins[n], n, raw) for n, raw in raws.items()), key=lambda s: s.effective_from)
    _check_distinct_dates(standards)
    return PolicyBook(tuple(standards))


def _entries(path: Path) -> list[Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PolicyDataError(f"{path}: cannot read policy data: {error}") from None
    if isinstance(document, dict) and "standards" in document:
        document = document["standards"]
    return document if isinstance(document, list) else [document]


def _entry_name(path: Path, index: int, entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise PolicyDataError(f"{path}: standards[{index}]: name must be a non-empty string")
    return name


def _merged(path: Path, name: str, entry: dict[str, Any], known: dict[str, dict]) -> dict[str, Any]:
    base = entry.get("base")
    if base is None:
        return dict(entry)
    if base not in known:
        raise PolicyDataError(f"{path}: {name}: base {base!r} is not a standard loaded before it")
    return {**known[base], **{k: v for k, v in entry.items() if k != "base"}}


def _validated(path: Path, name: str, raw: dict[str, Any]) -> Standard:
    try:
        return parse_standard(name, raw)
    except PolicyDataError as error:
        raise PolicyDataError(f"{path}: {error}") from None


def _check_distinct_dates(standards: list[Standard]) -> None:
    for before, after in zip(standards, standards[1:], strict=False):
        if before.effective_from == after.effective_from:
            raise PolicyDataError(
                f"{before.name} and {after.name}: both take effect on "
                f"{after.effective_from.isoformat()}; effective_from must differ"
            )
