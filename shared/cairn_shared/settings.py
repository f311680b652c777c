"""One typed configuration object per process, read once from ``CAIRN_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a Cairn service reads from its environment.

    Secrets are ``SecretStr`` so that they never appear in a repr or a log line.
    """

    model_config = SettingsConfigDict(env_prefix="CAIRN_", extra="ignore", frozen=True)

    service: str = "cairn"
    http_host: str = "0.0.0.0"  # noqa: S104 - services listen on the pod network behind the gateway
    http_port: int = 8080
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    shutdown_timeout_s: float = Field(default=8.0, gt=0)

    kafka_bootstrap: str = "127.0.0.1:18092"
    kafka_topic_prefix: str = ""
    kafka_partitions: int = Field(default=6, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)

    mongo_url: SecretStr = SecretStr("mongodb://127.0.0.1:18017/")
    mongo_database: str = ""
    mongo_timeout_ms: int = Field(default=2000, ge=100)

    s3_endpoint: str = "http://127.0.0.1:18900"
    s3_public_endpoint: str = ""
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = "cairn"
    s3_region: str = "us-east-1"

    # Other services, reached directly on the internal network (never through the gateway).
    storage_url: str = "http://127.0.0.1:18083"
    manifest_url: str = "http://127.0.0.1:18082"
    registry_url: str = "http://127.0.0.1:18084"

    admin_api_key: SecretStr = SecretStr("")
    log_level: str = "INFO"
    log_format: str = Field(default="auto", pattern="^(auto|json|console)$")
    readiness_interval_s: float = Field(default=1.0, gt=0)

    @property
    def database_name(self) -> str:
        """The MongoDB database this service owns: ``cairn_<service>`` unless set explicitly."""
        return self.mongo_database or f"cairn_{self.service}"
