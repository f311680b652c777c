"""Fixtures for the deployment checks: kustomize (built once into the cache) and rendered YAML.

Nothing here needs a cluster or a Docker engine: manifests are rendered with the pinned
kustomize and checked against the Kubernetes JSON schemas that kubernetes-validate ships.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from cairn_dev import deploytools, instances, ports
from cairn_dev.errors import CairnDevError
from cairn_dev.paths import Layout, repo_root
from cairn_dev.settings import LOCAL_ONLY_SETTINGS, Settings

REPO = repo_root()
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")

Manifest = dict[str, Any]


@pytest.fixture(scope="session")
def kustomize() -> list[str]:
    """The pinned kustomize (`cairn-dev tools`): a cold cache builds it once, about a minute."""
    try:
        return deploytools.kustomize_argv()
    except CairnDevError as exc:
        pytest.fail(f"kustomize is not available: {exc.message}")


def render(kustomize: list[str], directory: Path) -> list[Manifest]:
    try:
        text = deploytools.render(directory, kustomize)
    except CairnDevError as exc:
        pytest.fail(exc.message)
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="session")
def overlays(kustomize: list[str]) -> dict[str, list[Manifest]]:
    return {name: render(kustomize, K8S / "overlays" / name) for name in OVERLAYS}


@pytest.fixture(scope="session")
def operators(kustomize: list[str]) -> list[Manifest]:
    return render(kustomize, K8S / "operators")


def of_kind(objects: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def generated(objects: list[Manifest], kind: str, name: str) -> Manifest:
    """The one object that kustomize generated from `name` (its name gets a hash suffix)."""
    (found,) = [obj for key, obj in of_kind(objects, kind).items() if key.startswith(name + "-")]
    return found


def service_settings() -> set[str]:
    """The CAIRN_* variables that the local stack gives every service (cairn-dev service_env)."""
    settings = Settings(
        repo=REPO,
        layout=Layout(home=Path("/nonexistent")),
        cache=Path("/nonexistent"),
        ports=ports.with_replicas(ports.resolve({}, {}), instances.SERVICES, 1),
        s3_backend="minio",
        mongo_backend="auto",
        bucket="cairn",
        admin_api_key="cairn_x",
    )
    # Deployments keep the SSRF guard's defaults; only the local stack opens loopback.
    return set(settings.service_env("ingest")) - set(LOCAL_ONLY_SETTINGS)
