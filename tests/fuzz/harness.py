"""Property-based fuzzing of the OpenAPI surface with schemathesis, against the ASGI app.

Each operation gets ``max_examples`` generated requests (valid by the schema and past auth:
the write key on ``/v1``, a secret key with every scope elsewhere); every other request of an
operation that takes a path parameter names an object the world seeded, so generated bodies
reach the domain code instead of stopping at 404. A request fails when the app answers 5xx,
raises, or answers 2xx with a body that does not match the response schema it declares.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fuzz.world import World

# Destructive operations run last, so the ids the world seeded serve the others first.
_LAST = ("DELETE", "/erase", "/revoke", "/rotate", "/archive")


@dataclass
class Finding:
    operation: str
    kind: str  # "5xx", "raised" or "schema"
    detail: str
    reproduce: str


@dataclass
class FuzzReport:
    statuses: Counter[int] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    operations: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"{self.operations} operations, {sum(self.statuses.values())} requests, "
            f"{self.seconds:.0f} s, statuses {dict(sorted(self.statuses.items()))}"
        ]
        lines += [
            f"{f.kind} {f.operation}: {f.detail[:400]}\n    {f.reproduce[:600]}"
            for f in self.findings
        ]
        return "\n".join(lines)


# pydantic documents ``datetime.time`` as ``format: time``, which JSON Schema reads as RFC 3339
# full-time (an offset required), and writes a local time of day such as "21:00:00" (the
# channels policy's quiet hours): the value is what the API means, the format name is not.
_KNOWN_MISMATCH = 'is not a "time"'
_OTHER_VIOLATIONS = (
    "is not of type",
    "is a required property",
    "is not one of",
    "Additional properties",
    "is not valid under",
    "does not match",
)


def _only_known_mismatches(text: str) -> bool:
    if any(other in text for other in _OTHER_VIOLATIONS):
        return False
    return text.count('is not a "') == text.count(_KNOWN_MISMATCH) > 0


def _order(operation: Any) -> tuple[bool, str]:
    label: str = operation.label
    return (any(mark in label for mark in _LAST), label)


class _Fuzzer:
    def __init__(self, app: FastAPI, world: World, report: FuzzReport) -> None:
        self.world = world
        self.report = report
        self.schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        self.calls = 0

    def operations(self) -> list[Any]:
        found = [result.ok() for result in self.schema.get_all_operations()]
        return sorted(found, key=_order)

    def _authorise(self, case: Any) -> None:
        keys = self.world.keys
        basic = case.operation.path.startswith("/v1/")
        token = f"Basic {_b64(keys.write_key + ':')}" if basic else f"Bearer {keys.secret_key}"
        case.headers = {**dict(case.headers or {}), "Authorization": token}

    def _known_ids(self, case: Any) -> None:
        self.calls += 1
        if not case.path_parameters or self.calls % 2:
            return
        for name in case.path_parameters:
            if name in self.world.known:
                case.path_parameters[name] = self.world.known[name]

    def call(self, case: Any) -> None:
        self._authorise(case)
        self._known_ids(case)
        label = case.operation.label
        try:
            response = case.call()
        except Exception as exc:  # the app raised: a 500 in production
            self._found(label, "raised", repr(exc), case)
            return
        self.report.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self._found(label, "5xx", f"{response.status_code} {response.text}", case)
        elif response.status_code < 300:
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except BaseException as exc:  # schemathesis raises a group of failures
                if not _only_known_mismatches(str(exc)):
                    self._found(label, "schema", str(exc), case)

    def _found(self, label: str, kind: str, detail: str, case: Any) -> None:
        self.report.findings.append(Finding(label, kind, detail, case.as_curl_command()))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def fuzz(app: FastAPI, world: World, *, max_examples: int, seed: int = 0) -> FuzzReport:
    """Run every operation of ``app``'s schema; what was found, not raised."""
    report = FuzzReport()
    fuzzer = _Fuzzer(app, world, report)
    started = time.monotonic()
    for operation in fuzzer.operations():
        report.operations += 1
        _run_operation(fuzzer, operation, max_examples=max_examples, seed=seed)
    report.seconds = time.monotonic() - started
    return report


def _run_operation(fuzzer: _Fuzzer, operation: Any, *, max_examples: int, seed: int) -> None:
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=seed == 0,
        # No shrinking: a finding is reported with the request that found it.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        fuzzer.call(case)

    (hypothesis_seed(seed)(run) if seed else run)()
