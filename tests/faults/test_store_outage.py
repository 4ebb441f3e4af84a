"""Issue 7: the database goes away under a running ``siyu serve`` (a TCP proxy between it and
PostgreSQL is cut): collect and the management API answer 503 with a clear JSON body — never
a 2xx for data not kept, never a 500 — and the same server recovers when the link returns;
the clients' retries land once."""

from __future__ import annotations

import pytest

from bench import faults
from tests.conftest import fresh_pg_schema
from tests.faults.conftest import assert_clean

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _postgres() -> None:
    fresh_pg_schema("faults_probe")  # skips when the server is down


def test_a_lost_database_answers_503_and_the_server_recovers_by_itself() -> None:
    result = faults.store_outage(clients=4, batches=6, size=20, outages=1, seconds=1.5)
    assert_clean(result["checks"])
    assert result["management_answers_during_outage"].get("503", 0) > 0
    sample = result["sample_503"]
    assert sample["retry_after"] and sample["body"]["error"]["type"] == "StoreError"
    assert sample["body"]["error"]["reason"] == "cannot reach the database"
    assert result["events_in_store"] == result["events_acked"] == 4 * 6 * 20


@pytest.mark.slow
def test_repeated_outages_under_load() -> None:
    result = faults.store_outage(clients=8, batches=40, size=50, outages=4, seconds=4.0)
    assert_clean(result["checks"])
    assert result["answers"].get("503", 0) > 0
    assert result["events_in_store"] == 8 * 40 * 50
