"""docker-compose.yml and the containers' gateway config, checked without a Docker engine.

`docker compose config` needs the compose plugin, which this machine's docker CLI lacks, so the
file is interpolated here the way compose does it (${VAR}, ${VAR:-default}, ${VAR:?error}) and
validated against the Compose Specification's JSON schema (the copy that check-jsonschema
ships), then checked for what Cairn relies on.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cairn_dev import instances, tools, versions
from cairn_dev.components.gateway import render_config

from tests.deploy.conftest import REPO, service_settings

COMPOSE = REPO / "docker-compose.yml"
NGINX = REPO / "deploy/docker/nginx.conf"
# The one variable without a default: an admin key must never be a default value.
REQUIRED = {"CAIRN_ADMIN_API_KEY"}

_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariableError(Exception):
    pass


def interpolate(value: Any, env: dict[str, str], seen: set[str]) -> Any:
    """Compose's variable interpolation of every string in `value`; records the names used."""
    if isinstance(value, dict):
        return {key: interpolate(item, env, seen) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env, seen) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        seen.add(name)
        op, arg = match.group("op") or "", match.group("arg") or ""
        current = env.get(name)
        unset_or_empty = not current if op.startswith(":") else current is None
        if op.endswith("-"):
            return arg if unset_or_empty else str(current)
        if op.endswith("?"):
            if unset_or_empty:
                raise MissingVariableError(f"{name}: {arg}")
            return str(current)
        if op.endswith("+"):
            return "" if unset_or_empty else arg
        return current or ""

    return _VARIABLE.sub(replace, value)


def load(env: dict[str, str]) -> tuple[dict[str, Any], set[str]]:
    seen: set[str] = set()
    raw = yaml.safe_load(COMPOSE.read_text())
    return interpolate(raw, env, seen), seen


def compose_schema() -> dict[str, Any]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(vendored.read_text())
    return schema


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document, _ = load({"CAIRN_ADMIN_API_KEY": "cairn_test"})
    return document


def test_the_compose_file_is_valid_compose(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


def test_the_schema_check_is_strict(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["ingest"]["healthcheck"]["intervall"] = "10s"  # a typo

    assert any("intervall" in error for error in schema_errors(broken))


def test_only_the_admin_key_is_required_and_everything_else_has_a_default() -> None:
    with pytest.raises(MissingVariableError, match="CAIRN_ADMIN_API_KEY: set CAIRN_ADMIN_API_KEY"):
        load({})
    _, seen = load(dict.fromkeys(REQUIRED, "x"))

    for name in seen - REQUIRED:
        assert re.search(rf"\$\{{{name}:-[^}}]+\}}", COMPOSE.read_text()), name


def test_it_runs_kafka_mongodb_minio_nginx_and_every_service_and_worker(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]

    assert set(services) == {"kafka", "mongo", "minio", "gateway", *instances.SERVICES}
    assert services["kafka"]["image"] == f"apache/kafka:{versions.KAFKA}"
    assert services["mongo"]["image"].startswith("mongo:")
    assert services["minio"]["image"].startswith("minio/minio:RELEASE.")
    assert services["gateway"]["image"].startswith("nginx:")
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "unless-stopped", name
    for name in ("kafka", "mongo", "minio"):
        (volume,) = services[name]["volumes"]
        assert volume.split(":")[0] in compose["volumes"], name


def test_the_services_and_workers_share_one_image_and_scale(compose: dict[str, Any]) -> None:
    services = compose["services"]
    images = {services[name]["image"] for name in instances.SERVICES}

    assert len(images) == 1
    for name in instances.SERVICES:
        service = services[name]
        assert service["command"] == [name]
        assert service["build"]["dockerfile"] == "deploy/docker/Dockerfile"
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
        # --scale needs no fixed container name and no host port.
        assert "container_name" not in service, name
        assert "ports" not in service, name
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        for dependency in service["depends_on"]:
            assert dependency in services, name


def test_a_worker_runs_like_ingest_but_nothing_waits_for_or_routes_to_it(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    ingest = services["ingest"]

    for name in instances.WORKERS:
        worker = services[name]
        # The history writer reads ingest's settings (its CAIRN_HTTP_PORT serves its probes).
        assert worker["environment"] == ingest["environment"], name
        assert worker["healthcheck"] == ingest["healthcheck"], name
        assert worker["depends_on"] == ingest["depends_on"], name
        assert name not in services["gateway"]["depends_on"], name
        assert not [other for other, s in services.items() if name in s.get("depends_on", {})]


def test_the_services_get_the_local_stacks_settings_and_s3_is_a_setting() -> None:
    defaults, _ = load({"CAIRN_ADMIN_API_KEY": "k"})
    elsewhere, _ = load(
        {
            "CAIRN_ADMIN_API_KEY": "k",
            "CAIRN_S3_ENDPOINT": "https://s3.eu-west-1.amazonaws.com",
            "CAIRN_S3_PUBLIC_ENDPOINT": "https://s3.eu-west-1.amazonaws.com",
        }
    )

    env = defaults["services"]["storage"]["environment"]
    assert set(env) >= service_settings()
    assert env["CAIRN_S3_ENDPOINT"] == "http://minio:9000"
    assert env["CAIRN_ADMIN_API_KEY"] == "k"
    moved = elsewhere["services"]["storage"]["environment"]
    assert moved["CAIRN_S3_ENDPOINT"] == "https://s3.eu-west-1.amazonaws.com"
    assert "minio" not in defaults["services"]["storage"]["depends_on"]  # --scale minio=0 works


def test_the_gateway_mounts_the_shared_config_and_waits_for_the_services(
    compose: dict[str, Any],
) -> None:
    gateway = compose["services"]["gateway"]

    (mount,) = gateway["volumes"]
    source, target, mode = mount.split(":")
    assert (REPO / source).resolve() == NGINX
    assert (target, mode) == ("/etc/nginx/nginx.conf", "ro")
    # The services it routes, healthy first; a worker it never reaches does not hold it back.
    assert set(gateway["depends_on"]) == set(instances.GATEWAY_SERVICES)
    assert all(dep["condition"] == "service_healthy" for dep in gateway["depends_on"].values())
    assert gateway["user"] == "101:101"


# ---- the gateway config of the containers -----------------------------------------------------


def test_kubernetes_and_compose_run_the_same_gateway_config() -> None:
    assert (REPO / "deploy/k8s/base/gateway/nginx.conf").read_bytes() == NGINX.read_bytes()


def _routing_lines(text: str) -> set[str]:
    """The lines that decide routing, headers and error bodies, without local paths and ports."""
    skip = ("#", "listen ", "server ", "pid ", "user ", "daemon ", "worker_processes ")
    lines = {line.strip() for line in text.splitlines()}
    return {
        line
        for line in lines
        if line
        and not line.startswith(skip)
        and "_temp_path" not in line
        and "cairn-dev status" not in line  # the local stack's own hint in one error body
        and "is not reachable through the gateway" not in line
    }


def routes(text: str) -> tuple[set[str], set[str], set[str]]:
    """The upstream blocks, the /<prefix>/ locations and the upstreams' server names."""
    return (
        set(re.findall(r"^\s*upstream cairn_(\S+) \{", text, re.MULTILINE)),
        set(re.findall(r"^\s*location /([^/\s]+)/ \{", text, re.MULTILINE)),
        set(re.findall(r"^\s*server ([^\s:]+):8080 ", text, re.MULTILINE)),
    )


def test_the_containers_route_exactly_like_the_local_stack(tmp_path: Path) -> None:
    template = (REPO / "deploy/local/nginx/nginx.conf.template").read_text()
    local = render_config(
        template,
        prefix=tmp_path,
        port=18080,
        upstreams={name: [18081] for name in instances.GATEWAY_SERVICES},
        user=None,
    )

    assert _routing_lines(local) == _routing_lines(NGINX.read_text())
    for name in instances.GATEWAY_SERVICES:
        assert f"server {name}:8080 max_fails=0;" in NGINX.read_text()


def test_the_gateway_routes_every_service_and_no_worker() -> None:
    upstreams, locations, servers = routes(NGINX.read_text())

    assert upstreams == locations == servers == set(instances.GATEWAY_SERVICES)
    directives = [
        line for line in NGINX.read_text().splitlines() if not line.strip().startswith("#")
    ]
    for name in instances.WORKERS:
        assert not [line for line in directives if name in line], name


def test_nginx_accepts_the_gateway_config(tmp_path: Path) -> None:
    nginx = tools.find("nginx", "/usr/sbin")
    assert nginx is not None, "nginx is not installed: `./cairn-dev up gateway` installs it"
    # The service names resolve only inside compose or Kubernetes: check against loopback.
    config = NGINX.read_text()
    for name in instances.GATEWAY_SERVICES:
        config = config.replace(f"server {name}:8080", "server 127.0.0.1:8080")
    config = config.replace("/tmp/", f"{tmp_path}/")  # noqa: S108 - the path in the config
    conf = tmp_path / "nginx.conf"
    conf.write_text(config)

    done = subprocess.run(
        [str(nginx), "-t", "-q", "-e", "stderr", "-p", f"{tmp_path}/", "-c", str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
