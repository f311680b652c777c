"""Artifact transfer benchmark against the running stack, through the SDK, as users upload.

    eval "$(./cairn-dev env)"; .venv/bin/python -m benchmarks.artifacts

Measures one 256 MiB file up and down, 2,000 files of 4 KiB up and down, and the re-log of the
unchanged 2,000-file artifact (time, and bytes storage received, from its own counters). Every
phase runs in a fresh process with its own cache directory, so nothing is served from a warm
cache unless the phase is about that. Prints one JSON object.

When the S3 settings are in the environment (``cairn-dev env`` exports them), the same run also
measures the floor: the big file PUT to scratch objects in 64 MiB pieces in parallel and read
back in one GET, through presigned URLs with nothing else done to the bytes (no hashing, no
verification, no file written). The SDK's figures are then also given as a share of it, which
the noise of a shared machine changes far less than the figures themselves.

Each phase also reports the CPU seconds the SDK (its timed part) and the stack's services and
S3 server spent on it, and the big file's rates those allow with every core on the transfer
and nothing waiting (``upload_cpu_bound_mb_s``): what the machine can give, whatever the code
overlaps. The floor reports the S3 server's CPU seconds too (``server_put_bound_mb_s``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from benchmarks.process_cpu import cpu_seconds, stack_pids

MIB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--file-kib", type=int, default=4)
    parser.add_argument("--stack-home", default=".cairn-dev", help="cairn-dev's home (pids)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(run_phase(args.phase, Path(args.root))))
        return
    print(json.dumps(orchestrate(args), indent=2))


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    base_url, admin_key = os.environ["CAIRN_BASE_URL"], os.environ["CAIRN_API_KEY"]
    user = f"bench-{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        f"{base_url}/ingest/v1/users",
        json={"name": user},
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=30,
    )
    created.raise_for_status()
    key = created.json()["api_key"]
    with tempfile.TemporaryDirectory(prefix="cairn-bench-") as tmp:
        root = Path(tmp)
        big, small = root / "big", root / "small"
        big.mkdir()
        small.mkdir()
        write_random(big / "weights.bin", args.big_mib * MIB)
        for n in range(args.files):
            (small / f"f{n:05d}.bin").write_bytes(os.urandom(args.file_kib * 1024))
        env = {**os.environ, "CAIRN_API_KEY": key}
        pids = stack_pids(Path(args.stack_home))

        def phase(name: str) -> dict[str, Any]:
            cache = root / f"cache-{name}"
            before, cpu = stats(base_url, key, user), cpu_seconds(pids)
            result = run_in_process(name, root, {**env, "CAIRN_CACHE_DIR": str(cache)})
            after, spent = stats(base_url, key, user), cpu_seconds(pids)
            result["bytes_stored"] = after["bytes"] - before["bytes"]
            result["cpu_s"] = {"sdk": result.pop("sdk_cpu_s")} | {
                k: round(spent[k] - cpu.get(k, 0.0), 2)
                for k in ("gateway", "storage", "s3", "manifest", "ingest")
                if k in spent
            }
            return result

        up_big, down_big = phase("up-big"), phase("down-big")
        up_small, down_small = phase("up-small"), phase("down-small")
        # The re-log reuses the upload's digest cache, as a user's second run on one machine.
        relog = run_in_process(
            "relog-small", root, {**env, "CAIRN_CACHE_DIR": str(root / "cache-up-small")}
        )
        relog_stats = stats(base_url, key, user)
        floor = None
        if "CAIRN_S3_ENDPOINT" in os.environ:
            floor = s3_floor(big / "weights.bin", pids.get("s3"))
    big_bytes = args.big_mib * MIB
    cores = os.cpu_count() or 1
    result: dict[str, Any] = {
        "big_file": {
            "bytes": big_bytes,
            "upload_s": up_big["seconds"],
            "upload_mb_s": round(big_bytes / up_big["seconds"] / 1e6, 1),
            "download_s": down_big["seconds"],
            "download_mb_s": round(big_bytes / down_big["seconds"] / 1e6, 1),
            "target_mb_s": 450,
            "upload_cpu_s": up_big["cpu_s"],
            "download_cpu_s": down_big["cpu_s"],
            # With every core busy on this transfer alone and nothing waiting on anything.
            "upload_cpu_bound_mb_s": cpu_bound(big_bytes, up_big["cpu_s"], cores),
            "download_cpu_bound_mb_s": cpu_bound(big_bytes, down_big["cpu_s"], cores),
            "cores": cores,
        },
        "small_files": {
            "files": args.files,
            "upload_s": up_small["seconds"],
            "upload_files_s": round(args.files / up_small["seconds"], 1),
            "download_s": down_small["seconds"],
            "download_files_s": round(args.files / down_small["seconds"], 1),
            "target_files_s": 2000,
        },
        "relog_unchanged": {
            "seconds": relog["seconds"],
            "version": relog["version"],
            "same_version": relog["version"] == up_small["version"],
            "bytes_stored_by_storage": relog_stats["bytes"] - relog["stats_before"]["bytes"],
            "target_s": 1.0,
        },
    }
    if floor is not None:
        put_mb_s, get_mb_s = (round(big_bytes / floor[k] / 1e6, 1) for k in ("put_s", "get_s"))
        result["s3_floor"] = {
            "put_mb_s": put_mb_s,
            "get_mb_s": get_mb_s,
            "upload_share": round(result["big_file"]["upload_mb_s"] / put_mb_s, 2),
            "download_share": round(result["big_file"]["download_mb_s"] / get_mb_s, 2),
        }
        if not math.isnan(floor["put_cpu_s"]):
            result["s3_floor"] |= {
                "server_put_cpu_s": round(floor["put_cpu_s"], 2),
                "server_get_cpu_s": round(floor["get_cpu_s"], 2),
                "server_put_bound_mb_s": cpu_bound(big_bytes, {"s3": floor["put_cpu_s"]}, cores),
            }
    return result


def cpu_bound(size: int, cpu_s: dict[str, float], cores: int) -> float | None:
    """MB/s if ``cores`` did nothing but the work that took ``cpu_s`` CPU seconds in all."""
    total = sum(cpu_s.values())
    return round(cores * size / total / 1e6, 1) if total > 0 else None


def s3_floor(path: Path, server: int | None, piece: int = 64 * MIB) -> dict[str, float]:
    """Seconds to PUT ``path`` to scratch objects (a piece each, in parallel) and GET it back,
    and the CPU seconds the S3 server (pid ``server``, when known) spent on each."""
    from minio import Minio  # noqa: PLC0415 - a dev dependency, for this measurement only

    endpoint = urlsplit(os.environ["CAIRN_S3_ENDPOINT"])
    s3 = Minio(
        endpoint.netloc,
        access_key=os.environ["CAIRN_S3_ACCESS_KEY"],
        secret_key=os.environ["CAIRN_S3_SECRET_KEY"],
        region=os.environ.get("CAIRN_S3_REGION"),
        secure=endpoint.scheme == "https",
    )
    bucket, prefix = os.environ["CAIRN_S3_BUCKET"], f"bench-floor/{uuid.uuid4().hex}"
    size = path.stat().st_size
    offsets = enumerate(range(0, size, piece))
    pieces = [(n, offset, min(piece, size - offset)) for n, offset in offsets]
    hour = timedelta(hours=1)

    def put(job: tuple[int, int, int]) -> None:
        n, offset, length = job
        url = s3.presigned_put_object(bucket, f"{prefix}/{n}", expires=hour)

        def body() -> Any:
            with path.open("rb") as f:
                f.seek(offset)
                left = length
                while left > 0:
                    chunk = f.read(min(MIB, left))
                    left -= len(chunk)
                    yield chunk

        headers = {"Content-Length": str(length)}
        httpx.put(url, content=body(), headers=headers, timeout=300).raise_for_status()

    def server_cpu() -> float:
        return cpu_seconds({"s3": server}).get("s3", math.nan) if server else math.nan

    try:
        cpu, started = server_cpu(), time.perf_counter()
        with ThreadPoolExecutor(len(pieces)) as pool:
            list(pool.map(put, pieces))
        put_s, put_cpu = time.perf_counter() - started, server_cpu() - cpu
        # The pieces one after another on one connection: as the SDK reads one big blob.
        cpu, started = server_cpu(), time.perf_counter()
        with httpx.Client(timeout=300) as client:
            for n, _, _ in pieces:
                url = s3.presigned_get_object(bucket, f"{prefix}/{n}", expires=hour)
                with client.stream("GET", url) as response:
                    response.raise_for_status()
                    for _ in response.iter_raw():
                        pass
        get_s, get_cpu = time.perf_counter() - started, server_cpu() - cpu
    finally:
        for n, _, _ in pieces:
            s3.remove_object(bucket, f"{prefix}/{n}")
    return {"put_s": put_s, "get_s": get_s, "put_cpu_s": put_cpu, "get_cpu_s": get_cpu}


def write_random(path: Path, size: int) -> None:
    with path.open("wb") as f:
        for _ in range(size // MIB):
            f.write(os.urandom(MIB))


def stats(base_url: str, key: str, entity: str) -> dict[str, int]:
    response = httpx.get(
        f"{base_url}/storage/v1/entities/{entity}/stats",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    response.raise_for_status()
    return {"blobs": int(response.json()["blobs"]), "bytes": int(response.json()["bytes"])}


def run_in_process(phase: str, root: Path, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.artifacts", "--phase", phase, "--root", str(root)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_phase(phase: str, root: Path) -> dict[str, Any]:
    import cairn  # noqa: PLC0415 - each phase imports the SDK in its own fresh process

    kind, _, which = phase.partition("-")
    name = "big" if which == "big" else "small"
    run = cairn.init(project="bench", job_type=phase)
    try:
        if kind in {"up", "relog"}:
            before = stats(os.environ["CAIRN_BASE_URL"], os.environ["CAIRN_API_KEY"], run.entity)
            started, cpu = time.perf_counter(), time.process_time()
            artifact = cairn.Artifact(name, type="dataset")
            artifact.add_dir(str(root / name))
            run.log_artifact(artifact)
            artifact.wait()
            return {
                "seconds": round(time.perf_counter() - started, 3),
                "sdk_cpu_s": round(time.process_time() - cpu, 2),
                "version": artifact.version,
                "stats_before": before,
            }
        started, cpu = time.perf_counter(), time.process_time()
        artifact = run.use_artifact(f"{name}:latest")
        artifact.download(root=str(root / f"download-{phase}"))
        return {
            "seconds": round(time.perf_counter() - started, 3),
            "sdk_cpu_s": round(time.process_time() - cpu, 2),
            "version": artifact.version,
        }
    finally:
        run.finish()


if __name__ == "__main__":
    main()
