"""Settings of the local stack: the stack home, the admin API key, the exported environment."""

import os
import re
import stat
from pathlib import Path

import pytest
from cairn_dev import settings
from cairn_dev.errors import CairnDevError


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in [name for name in os.environ if name.startswith("CAIRN_DEV_")]:
        monkeypatch.delenv(var)  # the developer's own stack settings must not leak in
    monkeypatch.setenv("CAIRN_DEV_HOME", str(tmp_path / "stack"))
    return tmp_path / "stack"


def test_the_admin_key_is_created_once_private_and_well_formed(tmp_path: Path) -> None:
    path = tmp_path / "admin-api-key"

    key = settings.ensure_admin_key(path)

    assert re.fullmatch(r"cairn_[A-Za-z0-9_-]{40}", key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert settings.ensure_admin_key(path) == key


def test_load_creates_the_layout_under_the_home(home: Path) -> None:
    loaded = settings.load()

    assert loaded.layout.home == home.resolve()
    assert {p.name for p in home.iterdir()} >= {"data", "logs", "run", "admin-api-key"}
    assert loaded.layout.log_file("kafka") == home.resolve() / "logs" / "kafka.log"
    assert loaded.layout.pid_file("mongo") == home.resolve() / "run" / "mongo.pid"
    assert (loaded.s3_backend, loaded.mongo_backend, loaded.bucket) == ("minio", "auto", "cairn")


def test_client_env_points_at_the_configured_ports(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_DEV_GATEWAY_PORT", "28080")
    monkeypatch.setenv("CAIRN_DEV_S3_BUCKET", "other")

    env = settings.load().client_env()

    assert env["CAIRN_BASE_URL"] == "http://127.0.0.1:28080"
    assert env["CAIRN_API_KEY"] == env["CAIRN_ADMIN_API_KEY"]
    assert env["CAIRN_KAFKA_BOOTSTRAP"] == "127.0.0.1:18092"
    assert env["CAIRN_MONGO_URL"] == "mongodb://127.0.0.1:18017/"
    assert env["CAIRN_S3_ENDPOINT"] == "http://127.0.0.1:18900"
    assert env["CAIRN_S3_BUCKET"] == "other"
    assert env["CAIRN_S3_ACCESS_KEY"]
    assert len(env["CAIRN_S3_SECRET_KEY"]) >= 8


def test_service_env_carries_the_service_port_and_no_client_settings(home: Path) -> None:
    env = settings.load().service_env("storage")

    assert env["CAIRN_HTTP_HOST"] == "127.0.0.1"
    assert env["CAIRN_HTTP_PORT"] == "18083"
    assert env["CAIRN_LOG_FORMAT"] == "json"
    assert env["CAIRN_S3_REGION"] == "us-east-1"
    assert env["CAIRN_S3_PUBLIC_ENDPOINT"] == env["CAIRN_S3_ENDPOINT"]
    assert env["CAIRN_ADMIN_API_KEY"].startswith("cairn_")
    assert "CAIRN_BASE_URL" not in env
    assert "CAIRN_API_KEY" not in env


def test_an_unknown_backend_is_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_DEV_S3", "ceph")

    with pytest.raises(CairnDevError, match="CAIRN_DEV_S3='ceph': expected one of minio"):
        settings.load()


@pytest.mark.parametrize("bucket", ["Bad_Bucket", "ab", "-cairn", "x" * 64])
def test_an_invalid_bucket_name_is_refused_before_anything_starts(
    home: Path, monkeypatch: pytest.MonkeyPatch, bucket: str
) -> None:
    monkeypatch.setenv("CAIRN_DEV_S3_BUCKET", bucket)

    with pytest.raises(CairnDevError, match="not a valid S3 bucket name"):
        settings.load()
