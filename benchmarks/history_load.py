"""Run-history load generator: many simulated ``run.log`` senders against the real stack.

    eval "$(./cairn-dev env)"
    python -m benchmarks.history_load --workers 1000 --rate 100 --keys 10 --duration 60
    python -m benchmarks.history_load --workers 100 --duration 10          # a quick smoke run

Each worker is one run logging ``--rate`` rows per second of ``--keys`` random floats, sent as
the SDK's sender does: every ``--flush`` seconds (from a random phase) the rows logged since
the last send go out as one gzip batch of JSON columns (one batch in flight per run, retried
with the same batch id after a 429/503/timeout; a worker that falls behind sends its next batch
at once). Every batch's body is built before the clock starts: on GPU workers the rows and their
compression cost the workers' CPU, not the stack's, and here building them in the timed
window took about 1.8 µs a row of the two cores the stack runs on (a tenth of all they spent).
With ``--chaos`` it SIGKILLs the history writer a third of the way through (and starts it
again) and restarts the Kafka broker at two thirds, through ``cairn-dev``, as issue 7 asks.
The generator measures accepted rows per second and the acknowledgement latency of each
batch, over the whole run and per 10 s window; ``steady_rows_per_s`` counts the rows
acknowledged from the end of the first interval (when every worker has sent once) to the
deadline: the offered rate, give or take a batch a worker, when the stack keeps up. It then
waits until the history writer has stored every batch, reads every run back through
``scan_history``, checks its steps are exactly 0..n-1 (every row, once), and prints one JSON
object. CPU seconds of the stack's processes are reported beside it: on a small machine the
generator, the services, Kafka and FerretDB share the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from isal import isal_zlib

from benchmarks.process_cpu import cpu_seconds, stack_pids
from cairn.runs.transport import HISTORY_TYPE
from cairn.runs.tuning import Tuning

GZIP_WBITS = 31
Ack = tuple[float, float, int]  # an acknowledged batch: when, its latency, its rows


@dataclass(frozen=True)
class Batch:
    due_s: float  # when the worker's sender sends it, in seconds from the start of the load
    rows: int
    body: bytes  # gzip JSON columns, as the SDK sends


@dataclass
class Worker:
    run_id: str
    batches: list[Batch] = field(default_factory=list)
    sent_rows: int = 0
    seq: int = 0
    acks: list[Ack] = field(default_factory=list)
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    unconfirmed_rows: int = 0  # in a batch given up on: maybe stored, never acknowledged


@dataclass
class Load:
    base: str
    headers: dict[str, str]
    began: float  # perf_counter


POOL = 8192  # random values per key, reused in turn


def value_pools(keys: list[str]) -> dict[str, list[float]]:
    """Per key, POOL random floats followed by the first MAX_ROWS again, so that any batch's
    values are one slice. A training script computes its values anyway; drawing fresh ones
    here for every row took two fifths of this generator's CPU."""
    pools = {}
    for key in keys:
        pool = [random.random() for _ in range(POOL)]  # noqa: S311
        pools[key] = pool + pool[:MAX_ROWS]
    return pools


def plan_batches(
    args: argparse.Namespace, phase_s: float, pools: dict[str, list[float]], logged_at: float
) -> list[Batch]:
    """One worker's batches: at ``phase_s``, then every ``--flush`` seconds, the rows logged
    since the previous send (at ``--rate`` from the start, for ``--duration`` seconds), at most
    MAX_ROWS a batch; the last goes at the first send time after the logging ends."""
    total = int(args.duration * args.rate)
    batches: list[Batch] = []
    sent, due_s = 0, phase_s
    while sent < total:
        due = min(total, int(min(due_s, args.duration) * args.rate))
        while sent < due:
            count = min(due - sent, MAX_ROWS)
            batches.append(Batch(due_s, count, batch_body(sent, count, pools, logged_at)))
            sent += count
        due_s += args.flush
    return batches


def batch_body(start: int, count: int, pools: dict[str, list[float]], logged_at: float) -> bytes:
    """The SDK's body for rows ``start`` to ``start + count``: ``_step``, ``_timestamp`` and
    the keys, as one block of columns. Compressed with ISA-L rather than the SDK's zlib: the
    same format, a quarter of the CPU."""
    offset = start % POOL
    block = {
        "_step": list(range(start, start + count)),
        "_timestamp": [logged_at] * count,
        **{key: pool[offset : offset + count] for key, pool in pools.items()},
    }
    deflater = isal_zlib.compressobj(1, isal_zlib.DEFLATED, GZIP_WBITS)
    return deflater.compress(orjson.dumps([block])) + deflater.flush()


async def post_batch(
    session: aiohttp.ClientSession, load: Load, worker: Worker, body: bytes, rows: int
) -> bool:
    """Send until acknowledged, as the SDK does; only the acknowledged attempt's latency and the
    whole time to acknowledgement are kept (the latter includes back-off after a 429). False
    when the batch was given up on after GIVE_UP_S: the worker stops there."""
    url = f"{load.base}/runs/{worker.run_id}/history"
    params = {"batch_id": str(uuid.uuid4()), "seq": str(worker.seq)}
    headers = load.headers | {"Content-Type": HISTORY_TYPE, "Content-Encoding": "gzip"}
    first = time.perf_counter()
    while True:
        started = time.perf_counter()
        try:
            async with session.post(url, params=params, data=body, headers=headers) as response:
                await response.read()
                status, retry_after = response.status, response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, retry_after = 0, None
            worker.errors.append(repr(exc)[:200])
        now = time.perf_counter()
        if status == 200:
            worker.acks.append((now, now - started, rows))
            worker.seq += 1
            worker.sent_rows += rows
            return True
        if status not in (0, 429, 502, 503, 504):
            worker.errors.append(f"HTTP {status}")
            raise RuntimeError(f"batch refused with HTTP {status}")
        worker.retries += 1
        if now - first > GIVE_UP_S:
            worker.unconfirmed_rows = rows
            worker.errors.append(f"given up: not acknowledged within {GIVE_UP_S} s")
            return False
        await asyncio.sleep(float(retry_after or 0.2) * random.uniform(0.5, 1.0))  # noqa: S311


GIVE_UP_S = 120
MAX_ROWS = 5_000  # per batch, as the SDK's sender (cairn/runs/batch.py)


async def run_worker(session: aiohttp.ClientSession, load: Load, worker: Worker) -> None:
    for batch in worker.batches:
        await asyncio.sleep(max(0.0, load.began + batch.due_s - time.perf_counter()))
        if not await post_batch(session, load, worker, batch.body, batch.rows):
            return


async def wait_stored(session: aiohttp.ClientSession, load: Load, workers: list[Worker]) -> float:
    started = time.perf_counter()
    sem = asyncio.Semaphore(32)

    async def one(worker: Worker) -> None:
        url = f"{load.base}/runs/{worker.run_id}/history/status"
        params = {"seq": str(worker.seq - 1), "wait_s": "20"}
        async with sem:
            for _ in range(30):
                async with session.get(
                    url, params=params, headers=load.headers, timeout=aiohttp.ClientTimeout(60)
                ) as response:
                    if response.status == 200 and (await response.json())["stored"]:
                        return
        raise RuntimeError(f"{worker.run_id}: the writer did not store every batch in time")

    await asyncio.gather(*(one(w) for w in workers if w.seq))
    return time.perf_counter() - started


async def read_back(
    session: aiohttp.ClientSession, load: Load, workers: list[Worker]
) -> dict[str, int]:
    """Every row of every run through scan_history: steps must be exactly 0..sent-1, plus the
    rows of a batch given up on, which the server may or may not have stored."""
    totals = {
        "rows": 0,
        "runs_complete": 0,
        "missing": 0,
        "duplicates": 0,
        "out_of_order": 0,
        "unexpected": 0,
    }
    sem = asyncio.Semaphore(8)

    async def one(worker: Worker) -> None:
        url = f"{load.base}/runs/{worker.run_id}/history/scan"
        steps: list[int] = []
        cursor: str | None = None
        async with sem:
            while True:
                params = {"page_size": "10000"} | ({"cursor": cursor} if cursor else {})
                async with session.get(url, params=params, headers=load.headers) as response:
                    page = orjson.loads(await response.read())
                steps.extend(row["_step"] for row in page["rows"])
                cursor = page["next"]
                if not cursor:
                    break
        totals["rows"] += len(steps)
        distinct = set(steps)
        totals["duplicates"] += len(steps) - len(distinct)
        acknowledged = set(range(worker.sent_rows))
        allowed = set(range(worker.sent_rows + worker.unconfirmed_rows))
        totals["missing"] += len(acknowledged - distinct)
        totals["unexpected"] += len(distinct - allowed)
        totals["out_of_order"] += int(steps != sorted(steps))
        totals["runs_complete"] += int(acknowledged <= distinct <= allowed)

    await asyncio.gather(*(one(w) for w in workers))
    return totals


CHAOS = (
    (1 / 3, ("kill", "history-writer"), ("up", "history-writer")),
    (2 / 3, ("down", "kafka"), ("up", "kafka")),
)


async def cairn_dev(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cairn_dev",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"cairn-dev {' '.join(args)} failed: {output.decode()[-2000:]}")


async def chaos(duration_s: float, began: float) -> list[dict[str, Any]]:
    """Break the stack while the workers log; what was done, and when."""
    done: list[dict[str, Any]] = []
    for fraction, *steps in CHAOS:
        await asyncio.sleep(max(0.0, began + fraction * duration_s - time.perf_counter()))
        for step in steps:
            at = time.perf_counter() - began
            await cairn_dev(*step)
            done.append({"at_s": round(at, 1), "did": " ".join(step)})
    return done


WINDOW_S = 10.0


def steady_rate(acks: list[Ack], start: float, end: float) -> int | None:
    """Rows per second acknowledged between ``start`` and ``end``."""
    if end <= start:
        return None
    return round(sum(rows for when, _, rows in acks if start <= when < end) / (end - start))


def by_window(acks: list[Ack], began: float, width: float) -> list[dict[str, Any]]:
    """Rows per second acknowledged in each ``width`` seconds of the run, and those batches'
    latency: a queue that grows shows as rising windows, a stall as one bad window. (The last
    window holds each worker's final batch, sent at its own pace after the deadline.)"""
    windows: dict[int, list[tuple[float, int]]] = {}
    for when, latency, rows in acks:
        windows.setdefault(int((when - began) // width), []).append((latency, rows))
    return [
        {
            "from_s": n * width,
            "rows_per_s": round(sum(rows for _, rows in batches) / width),
            "ack_latency_ms": percentiles([latency for latency, _ in batches]),
        }
        for n, batches in sorted(windows.items())
    ]


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": round(ordered[-1] * 1000, 1),
        "mean": round(statistics.fmean(ordered) * 1000, 1),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    base_url = os.environ["CAIRN_BASE_URL"].rstrip("/")
    headers = {"Authorization": f"Bearer {os.environ['CAIRN_API_KEY']}"}
    connector = aiohttp.TCPConnector(limit=args.connections)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async with session.get(f"{base_url}/ingest/v1/viewer", headers=headers) as response:
            entity = args.entity or (await response.json())["default_entity"]
        project = args.project or f"bench-{int(time.time())}"
        base = f"{base_url}/ingest/v1/entities/{entity}/projects/{project}"
        workers = [Worker(run_id=f"w{n:05d}") for n in range(args.workers)]
        starts = asyncio.Semaphore(50)

        async def start(worker: Worker) -> None:
            async with (
                starts,
                session.post(
                    f"{base}/runs", json={"run_id": worker.run_id}, headers=headers
                ) as response,
            ):
                if response.status != 201:
                    raise RuntimeError(f"cannot start {worker.run_id}: {await response.text()}")

        await asyncio.gather(*(start(w) for w in workers))
        pools = value_pools([f"metric_{k}" for k in range(args.keys)])
        logged_at = time.time()
        for worker in workers:
            phase_s = random.uniform(0, args.flush)  # noqa: S311 - spread the workers
            worker.batches = plan_batches(args, phase_s, pools, logged_at)
        pids = {"loadgen": os.getpid(), **stack_pids(Path(args.stack_home), args.pid)}
        cpu_before, load_before = cpu_seconds(pids), os.getloadavg()
        began = time.perf_counter()
        load = Load(base=base, headers=headers, began=began)
        breaking = asyncio.create_task(chaos(args.duration, began)) if args.chaos else None
        await asyncio.gather(*(run_worker(session, load, w) for w in workers))
        broken = await breaking if breaking is not None else []
        sending_s = time.perf_counter() - began
        cpu_during = cpu_seconds(pids)
        catch_up_s = await wait_stored(session, load, workers)
        readback = await read_back(session, load, workers) if args.verify else {}
    acks = [ack for w in workers for ack in w.acks]
    latencies = [latency for _, latency, _ in acks]
    sent = sum(w.sent_rows for w in workers)
    return {
        "benchmark": "history_load",
        "config": vars(args) | {"entity": entity, "project": project},
        "rows_accepted": sent,
        "batches_accepted": len(latencies),
        "sending_s": round(sending_s, 2),
        "rows_per_s_accepted": round(sent / sending_s),
        "rows_per_s_offered": args.workers * args.rate,
        "steady_rows_per_s": steady_rate(acks, began + args.flush, began + args.duration),
        "ack_latency_ms": percentiles(latencies),
        "by_window": by_window(acks, began, WINDOW_S),
        "retries": sum(w.retries for w in workers),
        "errors": sum(len(w.errors) for w in workers),
        "batches_given_up": sum(1 for w in workers if w.unconfirmed_rows),
        "writer_catch_up_s": round(catch_up_s, 2),
        "chaos": broken,
        "readback": readback,
        "every_row_once": bool(readback)
        and readback["missing"] == 0
        and readback["duplicates"] == 0
        and readback["unexpected"] == 0,
        "cpu_s_during_send": {
            k: round(cpu_during[k] - cpu_before.get(k, 0.0), 1) for k in cpu_during
        },
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="rows per second per worker")
    parser.add_argument("--keys", type=int, default=10, help="numeric keys per row")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of logging")
    parser.add_argument(
        "--flush",
        type=float,
        default=Tuning().batch_interval_s,
        help="seconds between batches (default: the SDK's)",
    )
    parser.add_argument("--connections", type=int, default=256, help="HTTP connection pool")
    parser.add_argument("--entity", default="")
    parser.add_argument("--project", default="")
    parser.add_argument("--no-verify", dest="verify", action="store_false")
    parser.add_argument(
        "--chaos",
        action="store_true",
        help="SIGKILL and restart the history writer, then restart Kafka, during the load",
    )
    parser.add_argument("--stack-home", default=".cairn-dev", help="cairn-dev's home (pids)")
    parser.add_argument("--pid", action="append", default=[], help="NAME=PID to account CPU")
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse_args())), indent=2))
