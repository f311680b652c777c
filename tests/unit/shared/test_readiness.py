from __future__ import annotations

import asyncio

from cairn_shared.http.health import Readiness


async def test_readiness_reports_each_dependency_and_recovers() -> None:
    up = {"db": False}

    async def probe() -> None:
        if not up["db"]:
            raise ConnectionError("refused")

    async def fine() -> None:
        return None

    readiness = Readiness(timeout_s=0.5)
    readiness.add("mongodb", probe)
    readiness.add("kafka", fine)

    await readiness.check_all()
    assert not readiness.ready
    assert readiness.report()["mongodb"] == {"ok": False, "error": "ConnectionError: refused"}
    assert readiness.report()["kafka"] == {"ok": True}

    up["db"] = True
    await readiness.check_all()
    assert readiness.ready


async def test_a_hanging_probe_counts_as_down() -> None:
    async def hangs() -> None:
        await asyncio.sleep(10)

    readiness = Readiness(timeout_s=0.05)
    readiness.add("s3", hangs)

    await readiness.check_all()

    assert not readiness.ready
