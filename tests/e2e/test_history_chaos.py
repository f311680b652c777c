"""run.log under fire (issue 7): the history writer SIGKILLed and restarted, then the Kafka
broker restarted, while workers log; no acknowledged row is lost and none is stored twice.

It drives the load generator of ``benchmarks/history_load.py`` with ``--chaos`` at a small
scale: the guarantee does not depend on the rate, and the suite must stay short.
"""

from __future__ import annotations

import httpx
import pytest

from benchmarks.history_load import main, parse_args
from tests.e2e.test_gateway_and_health import SERVICES, wait_for_status


@pytest.mark.timeout(600)
async def test_a_writer_kill_and_a_broker_restart_lose_and_duplicate_no_row(
    http: httpx.AsyncClient, unique: str
) -> None:
    args = ["--workers", "20", "--rate", "20", "--duration", "30", "--chaos"]
    try:
        result = await main(parse_args([*args, "--project", f"chaos-{unique}"]))
    finally:  # the tests after this one need every service ready again
        ready = await wait_for_status(http, 200, deadline_s=120)
    assert set(ready) == set(SERVICES)

    assert [step["did"] for step in result["chaos"]] == [
        "kill history-writer",
        "up history-writer",
        "down kafka",
        "up kafka",
    ]
    readback = result["readback"]
    assert result["rows_accepted"] > 0
    assert result["batches_given_up"] == 0  # every batch was acknowledged in the end
    assert readback["rows"] == result["rows_accepted"]
    assert (readback["missing"], readback["duplicates"], readback["unexpected"]) == (0, 0, 0)
    assert readback["out_of_order"] == 0
    assert readback["runs_complete"] == 20
    assert result["every_row_once"]
