"""Everything a command needs to know about the stack, resolved once from env, files and state."""

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cairn_dev import instances, ports, process, state
from cairn_dev.errors import CairnDevError
from cairn_dev.paths import Layout, cache_root, repo_root

# Fixed development credentials for the local S3 server: loopback only, never a secret.
S3_ACCESS_KEY = "cairn-dev"
S3_SECRET_KEY = "cairn-dev-secret-key"  # noqa: S105
S3_REGION = "us-east-1"
S3_BACKENDS = ("minio", "versitygw")
MONGO_BACKENDS = ("auto", "mongod", "ferretdb")
ADMIN_KEY_PREFIX = "cairn_"
# The services create their topics with CAIRN_KAFKA_PARTITIONS partitions (6 unless set): more
# members of one consumer group than partitions would leave the extra members idle.
DEFAULT_PARTITIONS = 6
# S3 bucket naming rules, simplified: 3-63 lowercase letters, digits, dots and hyphens.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


# A developer's webhook receivers run on this machine, over plain http: the local stack allows
# loopback targets, which a deployment refuses by default (the SSRF guard).
LOCAL_ONLY_SETTINGS = {
    "CAIRN_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
    "CAIRN_WEBHOOK_ALLOW_HTTP": "true",
}


@dataclass(frozen=True)
class Settings:
    repo: Path
    layout: Layout
    cache: Path
    ports: Mapping[str, int]
    s3_backend: str
    mongo_backend: str
    bucket: str
    admin_api_key: str
    replicas: int = 1  # wanted per service
    running_replicas: int = 1  # the highest replica number that runs now

    @property
    def known_replicas(self) -> int:
        """Replicas to look at for down, kill and status: wanted or still running."""
        return max(self.replicas, self.running_replicas)

    def replica_ports(self, service: str) -> list[int]:
        """The ports of the service's wanted replicas, for the gateway's upstream block."""
        return [self.ports[name] for name in instances.replicas_of(service, self.replicas)]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def client_env(self) -> dict[str, str]:
        """What `cairn-dev env` exports: the SDK's two variables plus what tests need."""
        return {
            "CAIRN_BASE_URL": self.base_url,
            "CAIRN_API_KEY": self.admin_api_key,
            "CAIRN_KAFKA_BOOTSTRAP": f"127.0.0.1:{self.ports['kafka']}",
            "CAIRN_MONGO_URL": f"mongodb://127.0.0.1:{self.ports['mongo']}/",
            "CAIRN_S3_ENDPOINT": self.s3_endpoint,
            "CAIRN_S3_PUBLIC_ENDPOINT": self.s3_endpoint,
            "CAIRN_S3_ACCESS_KEY": S3_ACCESS_KEY,
            "CAIRN_S3_SECRET_KEY": S3_SECRET_KEY,
            "CAIRN_S3_BUCKET": self.bucket,
            "CAIRN_S3_REGION": S3_REGION,
            "CAIRN_ADMIN_API_KEY": self.admin_api_key,
        }

    def service_env(self, name: str) -> dict[str, str]:
        """The settings a service process gets on top of the inherited environment."""
        env = {k: v for k, v in self.client_env().items() if k.startswith("CAIRN_")}
        del env["CAIRN_BASE_URL"], env["CAIRN_API_KEY"]
        env.update(
            CAIRN_HTTP_HOST="127.0.0.1",
            CAIRN_HTTP_PORT=str(self.ports[name]),
            CAIRN_LOG_FORMAT="json",
            # Services call each other directly on the internal network, not through the gateway;
            # every replica calls replica 1 of its peers (kill replica 2+ to test failover).
            CAIRN_STORAGE_URL=f"http://127.0.0.1:{self.ports['storage']}",
            CAIRN_MANIFEST_URL=f"http://127.0.0.1:{self.ports['manifest']}",
            CAIRN_REGISTRY_URL=f"http://127.0.0.1:{self.ports['registry']}",
            **LOCAL_ONLY_SETTINGS,
        )
        return env


def ensure_admin_key(path: Path) -> str:
    """Read the admin API key, creating it once (mode 0600) if missing."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ADMIN_KEY_PREFIX + secrets.token_urlsafe(30)  # 30 bytes -> 40 url-safe characters
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another cairn-dev created it meanwhile: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def _choice(env: Mapping[str, str], var: str, allowed: tuple[str, ...], running: str | None) -> str:
    """The env var if set, else what already runs (so a new shell finds it), else the default."""
    value = env.get(var, "").strip().lower() or running or allowed[0]
    if value not in allowed:
        raise CairnDevError(f"{var}={value!r}: expected one of {', '.join(allowed)}")
    return value


def _running(records: Mapping[str, state.Record]) -> dict[str, state.Record]:
    """The records whose process still runs."""
    return {name: rec for name, rec in records.items() if process.is_alive(rec.pid, rec.match)}


def max_replicas(env: Mapping[str, str]) -> int:
    """As many replicas as each topic has partitions (CAIRN_KAFKA_PARTITIONS, 6 by default)."""
    raw = env.get("CAIRN_KAFKA_PARTITIONS", "").strip()
    if not raw:
        return DEFAULT_PARTITIONS
    if not raw.isdigit() or int(raw) < 1:
        raise CairnDevError(f"CAIRN_KAFKA_PARTITIONS={raw!r} is not a positive number")
    return int(raw)


def _replicas(env: Mapping[str, str], override: int | None, running: int) -> int:
    """--replicas, else CAIRN_DEV_REPLICAS, else what runs (so a new shell finds it), else 1."""
    if override is not None:
        value, source = override, "--replicas"
    else:
        raw = env.get("CAIRN_DEV_REPLICAS", "").strip()
        if not raw:
            return running
        if not raw.isdigit():
            raise CairnDevError(f"CAIRN_DEV_REPLICAS={raw!r} is not a number of replicas")
        value, source = int(raw), "CAIRN_DEV_REPLICAS"
    limit = max_replicas(env)
    if not 1 <= value <= limit:
        raise CairnDevError(
            f"{source}={value}: expected 1 to {limit} replicas per service. Each topic has "
            f"{limit} partitions (CAIRN_KAFKA_PARTITIONS), so more members of a consumer group "
            "would only wait idle"
        )
    return value


def _running_replicas(records: Mapping[str, state.Record]) -> int:
    numbers = [1]
    for name in records:
        try:
            base, replica = instances.split(name)
        except ValueError:
            continue  # a record of a name this version does not know
        if base in instances.SERVICES:
            numbers.append(replica)
    return max(numbers)


def load(env: Mapping[str, str] | None = None, *, replicas: int | None = None) -> Settings:
    """The settings from `env` (os.environ by default); `replicas` is `up --replicas`."""
    env = os.environ if env is None else env
    repo = repo_root()
    layout = Layout.from_env(repo)
    layout.ensure()
    records = _running(state.load(layout.state_file))
    running_replicas = _running_replicas(records)
    wanted_replicas = _replicas(env, replicas, running_replicas)
    try:
        in_use = {name: port for rec in records.values() for name, port in rec.ports.items()}
        resolved = ports.with_replicas(
            ports.resolve(env, in_use),
            instances.SERVICES,
            max(wanted_replicas, running_replicas),
        )
    except ValueError as exc:
        raise CairnDevError(str(exc)) from exc
    # A record's `match` names the program that runs: minio, versitygw, mongod, cairn-ferretdb.
    s3_running = records["s3"].match if "s3" in records else None
    mongo_running = records["mongo"].match.removeprefix("cairn-") if "mongo" in records else None
    bucket = env.get("CAIRN_DEV_S3_BUCKET", "").strip() or "cairn"
    if not _BUCKET_NAME.fullmatch(bucket):
        raise CairnDevError(
            f"CAIRN_DEV_S3_BUCKET={bucket!r} is not a valid S3 bucket name "
            "(3-63 lowercase letters, digits, dots and hyphens)"
        )
    return Settings(
        repo=repo,
        layout=layout,
        cache=cache_root(),
        ports=resolved,
        s3_backend=_choice(env, "CAIRN_DEV_S3", S3_BACKENDS, s3_running),
        mongo_backend=_choice(env, "CAIRN_DEV_MONGO", MONGO_BACKENDS, mongo_running),
        bucket=bucket,
        admin_api_key=ensure_admin_key(layout.admin_key_file),
        replicas=wanted_replicas,
        running_replicas=running_replicas,
    )
