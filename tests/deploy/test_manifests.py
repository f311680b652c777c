"""The Kubernetes manifests (deploy/k8s): each overlay renders with kustomize, every object is valid
for the Kubernetes API (kubernetes-validate, strict), and the deployment rules hold: probes,
resources and a locked-down security context on every Deployment; an autoscaler that stays within
the partitions and a disruption budget for every service and worker; references that resolve.

Two kinds of Cairn process run from the one image (cairn_dev.instances): the services the gateway
routes (GATEWAY_SERVICES) each have a Service and take traffic from Cairn's pods; the workers
(WORKERS, the history writer) have no public API, so no Service selects them, the gateway has no
route to them and only Prometheus may reach their port.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import kubernetes_validate
import pytest
from cairn_dev import instances

from tests.deploy.conftest import (
    OVERLAYS,
    REPO,
    Manifest,
    generated,
    of_kind,
    render,
    service_settings,
)

pytestmark = pytest.mark.timeout(900)  # a cold cache builds kustomize first (about a minute)

# The oldest Kubernetes minor still in wide use, and the newest that kubernetes-validate knows.
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version() + ".0")


def containers(deployment: Manifest) -> list[dict[str, Any]]:
    return list(deployment["spec"]["template"]["spec"]["containers"])


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_is_valid_for_the_kubernetes_api(
    overlays: dict[str, list[Manifest]], overlay: str, version: str
) -> None:
    objects = overlays[overlay]
    kinds = {obj["kind"] for obj in objects}

    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)

    assert kinds >= {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    assert {obj["metadata"].get("namespace") for obj in objects if obj["kind"] != "Namespace"} == {
        "cairn-dev" if overlay == "dev" else "cairn"
    }


def test_the_validation_is_strict(overlays: dict[str, list[Manifest]]) -> None:
    deployment = copy.deepcopy(of_kind(overlays["dev"], "Deployment")["ingest"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}  # a typo

    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_probes_resources_and_a_locked_down_security_context(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    deployments = of_kind(overlays[overlay], "Deployment")

    assert set(deployments) == {*instances.SERVICES, "gateway"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["terminationGracePeriodSeconds"] >= 15, name  # 8 s shutdown + 5 s preStop
        for container in containers(deployment):
            ready = "/readyz" if name in instances.SERVICES else "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == ready, name
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_kind_is_labelled_and_shuts_down_as_its_traffic_needs(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    deployments = of_kind(overlays[overlay], "Deployment")
    kinds = {**dict.fromkeys(instances.GATEWAY_SERVICES, "service")}
    kinds.update(dict.fromkeys(instances.WORKERS, "worker"))

    for name, kind in kinds.items():
        pod = deployments[name]["spec"]["template"]
        # The NetworkPolicies and the prod overlay's patches select on this label.
        assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == kind, name
        assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true", name
        assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics", name
        (container,) = containers(deployments[name])
        # A service waits in preStop while its Service's endpoints drop the pod; a worker has no
        # endpoints, so it leaves its consumer group (and hands over its partitions) at once.
        assert ("preStop" in container.get("lifecycle", {})) is (kind == "service"), name
    if overlay == "prod":  # the production resources reach every service and worker
        ingest = containers(deployments["ingest"])[0]["resources"]
        for name in kinds:
            assert containers(deployments[name])[0]["resources"] == ingest, name
            spread = deployments[name]["spec"]["template"]["spec"]["topologySpreadConstraints"]
            assert spread[0]["whenUnsatisfiable"] == "DoNotSchedule", name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_runs_the_one_image_by_name(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    deployments = of_kind(overlays[overlay], "Deployment")
    images = {containers(deployments[name])[0]["image"] for name in instances.SERVICES}

    assert len(images) == 1
    for name in instances.SERVICES:
        assert containers(deployments[name])[0]["args"] == [name]
    assert images == {"cairn:dev"} if overlay == "dev" else {"registry.example.com/cairn:0.1.0"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_and_worker_is_autoscaled_within_the_partitions_and_protected(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    objects = overlays[overlay]
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    pdbs, deployments = of_kind(objects, "PodDisruptionBudget"), of_kind(objects, "Deployment")
    partitions = int(
        generated(objects, "ConfigMap", "cairn-config")["data"]["CAIRN_KAFKA_PARTITIONS"]
    )

    assert set(pdbs) == set(deployments)
    assert set(hpas) == set(instances.SERVICES)
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pdbs[name]["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
    for name in instances.SERVICES:  # the workers are consumer group members too
        spec = hpas[name]["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        # More members of a consumer group than partitions would only wait idle.
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"] <= partitions, name
    if overlay == "prod":
        assert all(hpas[name]["spec"]["minReplicas"] >= 2 for name in instances.SERVICES)


def test_the_base_autoscalers_stay_within_the_base_partitions(kustomize: list[str]) -> None:
    # The overlays replace min/maxReplicas, so the base's own values are checked on the base.
    objects = render(kustomize, REPO / "deploy/k8s/base")
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    partitions = int(
        generated(objects, "ConfigMap", "cairn-config")["data"]["CAIRN_KAFKA_PARTITIONS"]
    )

    assert set(hpas) == set(instances.SERVICES)
    for name, hpa in hpas.items():
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_and_the_services_it_routes_have_a_service_and_workers_none(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    objects = overlays[overlay]
    services, deployments = of_kind(objects, "Service"), of_kind(objects, "Deployment")
    config = generated(objects, "ConfigMap", "cairn-config")["data"]

    assert set(services) == {"gateway", *instances.GATEWAY_SERVICES}
    for name in ("gateway", *instances.GATEWAY_SERVICES):
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert services[name]["spec"]["selector"].items() <= labels.items(), name
    for name in instances.WORKERS:
        # Nothing may address a worker: no Service selects its pods (Prometheus finds them by
        # their annotations) and no setting names it as another service's URL.
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        selecting = [
            key
            for key, service in services.items()
            if service["spec"]["selector"].items() <= labels.items()
        ]
        assert selecting == [], name
        assert not [value for value in config.values() if f"//{name}" in value], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_services_get_every_setting_the_local_stack_gives_them(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    objects = overlays[overlay]
    configmaps, secrets = of_kind(objects, "ConfigMap"), of_kind(objects, "Secret")

    for name in instances.SERVICES:
        container = containers(of_kind(objects, "Deployment")[name])[0]
        (source,) = container["envFrom"]
        config = configmaps[source["configMapRef"]["name"]]  # the generated (hashed) name
        from_secrets = {env["name"]: env["valueFrom"]["secretKeyRef"] for env in container["env"]}
        assert set(config["data"]) | set(from_secrets) >= service_settings(), name
        assert not set(config["data"]) & set(from_secrets), name
        assert {ref["name"] for ref in from_secrets.values()} == {
            next(iter(secrets)) if overlay == "dev" else "cairn-secrets"
        }
    ingest = containers(of_kind(objects, "Deployment")["ingest"])[0]
    for name in instances.WORKERS:  # the history writer reads ingest's settings, all of them
        worker = containers(of_kind(objects, "Deployment")[name])[0]
        assert (worker["envFrom"], worker["env"]) == (ingest["envFrom"], ingest["env"]), name
    if overlay == "dev":  # generated with every key the Deployments ask for
        (secret,) = secrets.values()
        assert set(secret["data"]) == {
            "mongo-url",
            "s3-access-key",
            "s3-secret-key",
            "admin-api-key",
        }
    else:  # production Secrets exist only by reference, never in the repository
        assert secrets == {}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_sends_everything_to_the_gateway(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    (ingress,) = of_kind(overlays[overlay], "Ingress").values()
    backends = [ingress["spec"]["defaultBackend"]] + [
        path["backend"]
        for rule in ingress["spec"].get("rules", [])
        for path in rule["http"]["paths"]
    ]

    assert {b["service"]["name"] for b in backends} == {"gateway"}
    gateway = of_kind(overlays[overlay], "Service")["gateway"]
    assert {b["service"]["port"]["name"] for b in backends} == {
        port["name"] for port in gateway["spec"]["ports"]
    }
    if overlay == "prod":
        assert ingress["spec"]["tls"][0]["hosts"] == [ingress["spec"]["rules"][0]["host"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_admit_only_the_gateway_from_outside(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    objects = overlays[overlay]
    policies = of_kind(objects, "NetworkPolicy")
    cairn_pods = {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "cairn"}}}
    monitoring = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }

    for name, deployment in of_kind(objects, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selecting = [
            p
            for p in policies.values()
            if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(selecting) == 1, name
        # Egress stays open, for every kind: Kafka, MongoDB and S3 may be outside the cluster.
        assert selecting[0]["spec"]["policyTypes"] == ["Ingress"]
        (rule,) = selecting[0]["spec"]["ingress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": 8080}], name
        assert labels["app.kubernetes.io/part-of"] == "cairn"
        if name == "gateway":
            assert "from" not in rule  # the Ingress controller, wherever it runs
        elif name in instances.GATEWAY_SERVICES:  # the gateway, ingest's calls, Prometheus
            assert rule["from"] == [cairn_pods, monitoring], name
        else:  # a worker: no pod calls it, only Prometheus scrapes it
            assert name in instances.WORKERS
            assert rule["from"] == [monitoring], name


def test_the_gateway_config_map_is_the_compose_gateway_config(
    overlays: dict[str, list[Manifest]],
) -> None:
    gateway = generated(overlays["prod"], "ConfigMap", "cairn-gateway")

    assert gateway["data"]["nginx.conf"] == (REPO / "deploy/docker/nginx.conf").read_text()


# ---- the operators' example resources ---------------------------------------------------------
# Their kinds come from the operators' CRDs, whose schemas kubernetes-validate does not ship, so
# the built-in kinds are validated and the custom resources are checked for what Cairn relies on.


def test_the_operator_examples_render_and_their_builtin_objects_are_valid(
    operators: list[Manifest],
) -> None:
    kinds = {(obj["apiVersion"], obj["kind"]) for obj in operators}

    assert kinds == {
        ("kafka.strimzi.io/v1", "Kafka"),
        ("kafka.strimzi.io/v1", "KafkaNodePool"),
        ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"),
        ("minio.min.io/v2", "Tenant"),
        ("v1", "Secret"),
    }
    for obj in operators:
        assert obj["metadata"]["name"]
        assert isinstance(obj["spec"] if "spec" in obj else obj["stringData"], dict)
        if obj["apiVersion"] == "v1":
            kubernetes_validate.validate(obj, K8S_VERSIONS[-1], strict=True)


def test_the_operator_examples_match_the_settings_of_the_overlays(
    operators: list[Manifest], overlays: dict[str, list[Manifest]]
) -> None:
    config = generated(overlays["dev"], "ConfigMap", "cairn-config")
    secret = generated(overlays["dev"], "Secret", "cairn-secrets")
    prod_config = generated(overlays["prod"], "ConfigMap", "cairn-config")
    (kafka,) = of_kind(operators, "Kafka").values()
    (pool,) = of_kind(operators, "KafkaNodePool").values()
    (mongo,) = of_kind(operators, "MongoDBCommunity").values()
    (tenant,) = of_kind(operators, "Tenant").values()
    secrets = of_kind(operators, "Secret")

    # Strimzi names the bootstrap Service <cluster>-kafka-bootstrap; KRaft needs a controller pool.
    (plain,) = [lsn for lsn in kafka["spec"]["kafka"]["listeners"] if not lsn["tls"]]
    bootstrap = f"{kafka['metadata']['name']}-kafka-bootstrap:{plain['port']}"
    assert config["data"]["CAIRN_KAFKA_BOOTSTRAP"] == bootstrap
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    replication = int(prod_config["data"]["CAIRN_KAFKA_REPLICATION_FACTOR"])
    assert pool["spec"]["replicas"] >= replication
    assert kafka["spec"]["kafka"]["config"]["default.replication.factor"] == replication

    # The MongoDB user and its password are the ones in the dev overlay's connection string.
    url = base64.b64decode(secret["data"]["mongo-url"]).decode()
    (user,) = mongo["spec"]["users"]
    password = secrets[user["passwordSecretRef"]["name"]]["stringData"]["password"]
    name = mongo["metadata"]["name"]
    assert url.startswith(f"mongodb://{user['name']}:{password}@{name}-0.{name}-svc:27017/")
    assert f"replicaSet={name}" in url

    # The Tenant's root credentials are the dev overlay's S3 keys; its S3 Service is `minio`.
    env = secrets[tenant["spec"]["configuration"]["name"]]["stringData"]["config.env"]
    access = base64.b64decode(secret["data"]["s3-access-key"]).decode()
    secret_key = base64.b64decode(secret["data"]["s3-secret-key"]).decode()
    assert f'MINIO_ROOT_USER="{access}"' in env
    assert f'MINIO_ROOT_PASSWORD="{secret_key}"' in env
    assert tenant["spec"]["requestAutoCert"] is False
    assert config["data"]["CAIRN_S3_ENDPOINT"] == "http://minio"
