"""schemathesis over every operation of the OpenAPI schema: no 5xx, no exception, and every
2xx body matches the response schema the route declares.

The CI variant runs one example per operation on SQLite (about a minute on a loaded
2-core box); the slow variant runs many on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.fuzz.conftest import Target
from tests.fuzz.harness import fuzz

# The fuzzer must actually reach the domain code: enough 2xx answers, and every operation.
MIN_OPERATIONS = 200


def _check(target: Target, *, max_examples: int) -> None:
    report = fuzz(target.app, target.world, max_examples=max_examples)
    print(report.summary())
    assert report.operations >= MIN_OPERATIONS, report.summary()
    ok = sum(n for status, n in report.statuses.items() if status < 300)
    assert ok >= report.operations // 3, report.summary()
    assert not report.findings, report.summary()


def test_every_operation_survives_a_generated_request(sqlite_target: Target) -> None:
    # One example per operation keeps this near a minute on a loaded 2-core box.
    _check(sqlite_target, max_examples=1)


@pytest.mark.slow
def test_every_operation_survives_many_generated_requests(target: Target) -> None:
    _check(target, max_examples=50)
