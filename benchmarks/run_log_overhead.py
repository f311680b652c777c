"""What ``run.log`` adds to a training loop, per call, with the real background sender.

    eval "$(./cairn-dev env)"; .venv/bin/python -m benchmarks.run_log_overhead
    .venv/bin/python -m benchmarks.run_log_overhead --mode offline   # no server needed

A simulated training step runs in blocks of ``--steps``: a block without logging, then a block
with ``run.log`` of a typical row (8 metrics) after each step, alternating, ``--pairs`` times;
after each logging block the sender is flushed (untimed), so the next block starts with nothing
in flight. The overhead per call is the logging block's time per step minus the baseline's,
averaged over the pairs with the highest and lowest 20% trimmed (a shared machine's load spikes
hit single blocks). ``with_flush_us_per_call`` also charges each block the wait until the
server acknowledged all its rows: an upper bound that, on a one-machine stack, includes the
server's own CPU. Two kinds of step:

- ``gil-free`` (default): hashing a buffer, which releases the GIL as CUDA waits and most
  numeric kernels do: the realistic case for a GPU training loop;
- ``python``: a pure-Python loop that holds the GIL: the worst case.

``process_cpu_us_per_call`` is the CPU time the training process spends per logged row (all
its threads: ``run.log``, the sender, sending; the flush included), from ``process_time``: what
logging costs the process whatever else the machine runs (on a one-machine stack the server's
own CPU competes with the loop and inflates the wall-clock figures, not this one).
``call_us`` is the time spent inside ``run.log`` itself. ``calibration.json_row_us`` is what
``json.dumps`` of one such row costs on this machine, to compare results across machines.
``finish_s`` is ``run.finish()`` (flush, then the server storing the rows); with ``--verify``
the rows are read back with ``scan_history``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import cairn

ROW = {
    "loss": 0.5,
    "acc": 0.9,
    "lr": 1e-3,
    "grad_norm": 1.25,
    "epoch": 1,
    "tokens": 12_345,
    "ppl": 3.3,
    "weight_decay": 0.01,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5_000, help="steps per block")
    parser.add_argument("--pairs", type=int, default=10, help="baseline/logging block pairs")
    parser.add_argument("--work", choices=["gil-free", "python", "none"], default="gil-free")
    parser.add_argument("--work-us", type=float, default=100.0, help="one simulated step")
    parser.add_argument("--mode", choices=["online", "offline"], default=None)
    parser.add_argument("--verify", action="store_true", help="read every row back")
    args = parser.parse_args()
    online = os.environ.get("CAIRN_BASE_URL") and os.environ.get("CAIRN_API_KEY")
    mode = args.mode or ("online" if online else "offline")
    os.environ.setdefault("CAIRN_SILENT", "1")
    with tempfile.TemporaryDirectory(prefix="cairn-bench-") as tmp:
        os.environ["CAIRN_DIR"] = tmp
        print(json.dumps(run(args, mode), indent=2))


def run(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    work = make_work(args.work, args.work_us)
    run = cairn.init(project="bench-run-log", job_type="benchmark", mode=mode)
    sender = run._history._sender  # to flush between blocks
    overheads: list[float] = []
    with_flush: list[float] = []
    cpus: list[float] = []
    calls: list[float] = []
    baselines: list[float] = []
    step = 0
    for _ in range(args.pairs):
        cpu = time.process_time()
        base = loop(work, args.steps)
        base_cpu = time.process_time() - cpu
        cpu = time.process_time()
        start = time.perf_counter()
        inside = 0
        for _ in range(args.steps):
            work()
            row = dict(ROW, loss=1.0 / (step + 1))
            t0 = time.perf_counter_ns()
            run.log(row)
            inside += time.perf_counter_ns() - t0
            step += 1
        logged = (time.perf_counter() - start) / args.steps * 1e6
        sender.flush(600.0)  # the next baseline starts with nothing in flight
        flushed = (time.perf_counter() - start) / args.steps * 1e6
        cpus.append((time.process_time() - cpu - base_cpu) / args.steps * 1e6)
        baselines.append(base)
        overheads.append(logged - base)
        with_flush.append(flushed - base)
        calls.append(inside / args.steps / 1000)
    start = time.perf_counter()
    run.finish()
    finish_s = time.perf_counter() - start
    overhead = trimmed_mean(overheads)
    result: dict[str, Any] = {
        "benchmark": "run_log_overhead",
        "mode": mode,
        "work": args.work,
        "work_us": args.work_us,
        "steps_per_block": args.steps,
        "pairs": args.pairs,
        "rows_logged": step,
        "keys_per_row": len(ROW) + 3,
        "overhead_us_per_call": round(overhead, 2),
        "overhead_us_per_call_median": round(statistics.median(overheads), 2),
        "overhead_us_per_call_each": [round(v, 2) for v in overheads],
        "with_flush_us_per_call": round(trimmed_mean(with_flush), 2),
        "process_cpu_us_per_call": round(trimmed_mean(cpus), 2),
        "call_us": round(statistics.median(calls), 2),
        "baseline_step_us": round(statistics.median(baselines), 2),
        "finish_s": round(finish_s, 3),
        "under_20_us": {
            "wall_clock": overhead < 20.0,
            "process_cpu": trimmed_mean(cpus) < 20.0,
        },
        "encoder_process": sender.tuning.encoder_process,
        "calibration": calibration(),
    }
    if args.verify and mode == "online":
        history = cairn.Api().run(run.path).scan_history(page_size=10_000)
        result["rows_read_back"] = sum(1 for _ in history)
    return result


def trimmed_mean(values: list[float], cut: float = 0.2) -> float:
    ordered = sorted(values)
    drop = int(len(ordered) * cut)
    kept = ordered[drop : len(ordered) - drop] or ordered
    return statistics.fmean(kept)


def loop(work: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        work()
    return (time.perf_counter() - start) / steps * 1e6


def make_work(kind: str, work_us: float) -> Callable[[], None]:
    """A step of about ``work_us`` microseconds, calibrated on this machine."""
    if kind == "none":
        return lambda: None
    if kind == "python":

        def spin(n: int) -> None:
            total = 0
            for i in range(n):
                total += i

        per = _time_per(lambda: spin(10_000)) / 10_000
        n = max(1, int(work_us / per))
        return lambda: spin(n)
    per = _time_per(lambda: hashlib.sha256(bytes(1 << 20)).digest()) / (1 << 20)
    buffer = bytes(max(4096, int(work_us / per)))  # > 2 KiB: hashlib releases the GIL

    def digest() -> None:
        hashlib.sha256(buffer).digest()

    return digest


def _time_per(call: Callable[[], Any]) -> float:
    """Microseconds per call (best of a few)."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best * 1e6


def calibration() -> dict[str, Any]:
    row = dict(ROW, _step=1, _timestamp=time.time(), _runtime=1.5)
    n = 20_000
    start = time.perf_counter()
    for _ in range(n):
        json.dumps(row)
    return {
        "json_row_us": round((time.perf_counter() - start) / n * 1e6, 2),
        "cpus": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


if __name__ == "__main__":
    main()
