"""Storage's Prometheus counters, on the app's registry beside the HTTP metrics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from cairn_storage.domain.verification import Failure, Reason


@dataclass(frozen=True)
class StorageMetrics:
    blobs_stored: Counter
    bytes_verified: Counter
    verification_failures: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> StorageMetrics:
        failures = Counter(
            "cairn_storage_verification_failures",
            "Blobs whose upload did not verify, by reason",
            ["reason"],
            registry=registry,
        )
        for reason in Reason:  # every series exists from the start, at 0
            failures.labels(reason.value)
        return cls(
            blobs_stored=Counter(
                "cairn_storage_blobs_stored",
                "Blobs newly recorded in the index after verification",
                registry=registry,
            ),
            bytes_verified=Counter(
                "cairn_storage_bytes_verified",
                "Bytes whose size and SHA-256 were checked against S3 and found right",
                registry=registry,
            ),
            verification_failures=failures,
        )

    def completed(self, *, newly_stored: int, bytes_verified: int) -> None:
        self.blobs_stored.inc(newly_stored)
        self.bytes_verified.inc(bytes_verified)

    def failed(self, failures: Iterable[Failure]) -> None:
        for failure in failures:
            self.verification_failures.labels(failure.reason.value).inc()
