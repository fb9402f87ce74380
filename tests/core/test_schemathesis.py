"""Schemathesis against the served OpenAPI document: no input answers 500, and invalid input is refused.

The app runs over real HTTP (tests/support/live_server.py) on this test's database and talks to the
sandbox; schemathesis loads `/api/v1/openapi.json` from it (`schemathesis.openapi.from_url`) and runs
what `schemathesis run` runs (its engine): the examples, coverage and fuzzing phases, positive and
negative data, over every operation of the document, with the checks `not_a_server_error` and
`negative_data_rejection`, and the document's own exactness: `status_code_conformance` (every
status answered is documented for its operation), `content_type_conformance` (problem+json, PDF, PNG
as documented) and `response_schema_conformance` (every body matches its schema: required fields,
enums, formats, nullability); a fixed seed and at most MAX_EXAMPLES fuzzed examples per operation.
Nothing is excluded or relaxed:

- Requests carry the bearer token of a demo resident who logged in and bound their real name through
  the API, and `resident_id` is theirs, so that resident-scoped operations get past authorization
  and read their bodies and query strings (with a made-up id they would all answer 404 first).
- The tax bureau callback is signed: schemathesis cannot sign, so it only sends garbage, which must
  be refused without a 500 like anything else (the callback answers in its own format).
- The stateful phase is off: the document declares no links between operations.

Every failed check is collected and printed with the curl line that reproduces it; the test fails on any.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import configuration as hypothesis_configuration
from schemathesis.engine import events, from_schema

from tests.support.live_server import serve
from tests.support.miniapp import verified

SEED = 20270302
MAX_EXAMPLES = 50  # per operation in the fuzzing phase; the coverage phase's cases come on top
CHECKS = (
    "not_a_server_error",
    "negative_data_rejection",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


def _config(token: str, resident_id: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "continue-on-failure": True,
            "cache": {"enabled": False},  # nothing written into the checkout
            "headers": {"Authorization": f"Bearer {token}"},
            "parameters": {"resident_id": resident_id},
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )


@dataclass
class Run:
    """What a schemathesis run did, from its engine's events."""

    requests: Counter = field(default_factory=Counter)  # by operation
    by_phase: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    checks: Counter = field(default_factory=Counter)  # "name status"
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def record(self, event) -> None:
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            self.requests[recorder.label] += len(recorder.interactions)
            self.by_phase[event.phase.value] += len(recorder.interactions)
            self.statuses.update(i.response.status_code if i.response else None for i in recorder.interactions.values())
            for check in (check for checks in recorder.checks.values() for check in checks):
                self.checks[f"{check.name} {check.status.value}"] += 1
                if check.failure_info is not None:
                    failure = check.failure_info.failure
                    self.failures.append(
                        f"[{check.name}] {failure.operation}: {failure.title}\n{failure.message}\n"
                        f"{check.failure_info.code_sample}"
                    )
        elif isinstance(event, events.NonFatalError):
            self.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            raise event.exception

    def summary(self, seconds: float) -> str:
        lines = [
            f"schemathesis {schemathesis.__version__}, seed {SEED}, {MAX_EXAMPLES} examples: "
            f"{len(self.requests)} operations, {sum(self.requests.values())} requests "
            f"({dict(self.by_phase)}) in {seconds:.1f} s; {len(self.failures)} failures, {len(self.errors)} errors",
            f"statuses {dict(sorted(self.statuses.items(), key=str))}",
            f"checks {dict(sorted(self.checks.items()))}",
        ]
        return "\n".join(lines + [f"  {count:4} {label}" for label, count in sorted(self.requests.items())])


@pytest.fixture
def hypothesis_home(tmp_path):
    """Hypothesis keeps its caches (constants, Unicode data) in `./.hypothesis`: here, not in the checkout."""
    hypothesis_configuration.set_hypothesis_home_dir(tmp_path / "hypothesis")
    yield
    hypothesis_configuration.set_hypothesis_home_dir(None)


@pytest.mark.slow
@pytest.mark.usefixtures("hypothesis_home")
def test_schemathesis_finds_no_server_error_and_no_accepted_invalid_data(make_app):
    app = make_app()
    headers, me = verified(app.test_client(), "ordinary_1975")
    token = headers["Authorization"].removeprefix("Bearer ")
    run = Run()
    started = time.monotonic()
    with serve(app) as base:
        schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json", config=_config(token, me["resident_id"]))
        operations = {result.ok().label for result in schema.get_all_operations()}
        for event in from_schema(schema).execute():
            run.record(event)
    print(run.summary(time.monotonic() - started))
    assert not run.errors, "\n".join(run.errors)
    assert not run.failures, "\n\n".join(run.failures)
    assert set(run.requests) == operations and all(run.requests.values()), run.requests  # every one, tested
    assert run.checks[f"negative_data_rejection {events.Status.SUCCESS.value}"] > 0
