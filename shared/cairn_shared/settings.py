"""One typed configuration object per process, read once from ``CAIRN_*`` environment variables."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIB = 1024 * 1024
WEEK_S = 7 * 24 * 3600  # the longest expiry a SigV4 presigned URL may have


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
    # Worker threads (and pooled connections) for S3 calls: minio-py blocks, so this bounds
    # how many run at once, apart from the event loop's default executor.
    s3_concurrency: int = Field(default=32, ge=1, le=256)

    # Storage: blobs above the threshold upload in parts (S3's smallest non-last part is 5 MiB).
    multipart_threshold_bytes: int = Field(default=64 * MIB, ge=0)
    multipart_part_bytes: int = Field(default=64 * MIB, ge=5 * MIB, le=5 * 1024 * MIB)
    # Packable blobs up to this size upload together, as one object of at most pack_max_bytes
    # (0 turns packing off).
    pack_member_max_bytes: int = Field(default=1 * MIB, ge=0, le=64 * MIB)
    pack_max_bytes: int = Field(default=64 * MIB, ge=1 * MIB, le=5 * 1024 * MIB)
    presign_expiry_s: int = Field(default=3600, ge=1, le=WEEK_S)  # presigned GETs
    upload_expiry_s: int = Field(default=6 * 3600, ge=1, le=WEEK_S)  # a big model's parts

    # Other services, reached directly on the internal network (never through the gateway).
    storage_url: str = "http://127.0.0.1:18083"
    manifest_url: str = "http://127.0.0.1:18082"
    registry_url: str = "http://127.0.0.1:18084"

    # Run history (ingest). One batch becomes one Kafka message, so its compressed size stays
    # below the broker's 1 MB message limit; the decompressed cap bounds a gzip bomb.
    history_max_body_bytes: int = Field(default=640 * 1024, ge=1024, le=700 * 1024)
    history_max_batch_bytes: int = Field(default=8 * MIB, ge=1024)
    history_max_rows: int = Field(default=10_000, ge=1)
    history_max_keys: int = Field(default=1_000, ge=1)
    # Back-pressure: beyond these, per process, a batch is refused with 429 and Retry-After.
    history_max_inflight_requests: int = Field(default=2_000, ge=1)
    history_max_inflight_bytes: int = Field(default=128 * MIB, ge=1024)
    history_retry_after_s: int = Field(default=1, ge=1)

    admin_api_key: SecretStr = SecretStr("")
    log_level: str = "INFO"
    log_format: str = Field(default="auto", pattern="^(auto|json|console)$")
    readiness_interval_s: float = Field(default=1.0, gt=0)

    # Automations: webhook delivery. Lists read from the environment as comma-separated values
    # (CAIRN_WEBHOOK_ALLOW_NETWORKS=10.0.0.0/8,127.0.0.1/32) or as a JSON list.
    webhook_allow_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    webhook_allow_http: bool = False  # plain http targets; https only by default
    webhook_timeout_s: float = Field(default=15.0, gt=0)
    # Delay before each attempt, from the previous one (Standard Webhooks' suggestion).
    webhook_retry_schedule_s: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [
            0.0,
            5.0,
            300.0,
            1800.0,
            7200.0,
            18000.0,
            36000.0,
            50400.0,
            72000.0,
            86400.0,
        ],
        min_length=1,
    )
    webhook_retry_jitter: float = Field(default=0.1, ge=0, le=0.5)
    webhook_max_concurrency_per_target: int = Field(default=8, ge=1)
    # Fernet keys (comma-separated, the first encrypts) for secrets at rest.
    secrets_key: SecretStr = SecretStr("")
    automations_cache_ttl_s: float = Field(default=2.0, ge=0)
    automations_scan_interval_s: float = Field(default=5.0, gt=0)

    @field_validator("webhook_allow_networks", "webhook_retry_schedule_s", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def database_name(self) -> str:
        """The MongoDB database this service owns: ``cairn_<service>`` unless set explicitly."""
        return self.mongo_database or f"cairn_{self.service}"
