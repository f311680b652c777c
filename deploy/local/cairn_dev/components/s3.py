"""The S3 server: MinIO by default, versitygw (POSIX backend) with CAIRN_DEV_S3=versitygw.

Both are built once from the Go module proxy into the cache unless already on PATH. Readiness and
the bucket use plain, signed S3 calls only, so the same code proves any S3 service.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from cairn_dev import builds, tools, versions
from cairn_dev.components.base import Component
from cairn_dev.errors import CairnDevError
from cairn_dev.readiness import NotReadyError
from cairn_dev.settings import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY

if TYPE_CHECKING:
    from minio import Minio


class S3(Component):
    name = "s3"
    ready_timeout = 60.0

    _binary: Path | None = None

    @property
    def kind(self) -> str:
        return self.settings.s3_backend

    @property
    def port_names(self) -> tuple[str, ...]:
        # versitygw has no console, but the port stays reserved so switching back is painless.
        return ("s3", "s3_console")

    @property
    def backend(self) -> str:
        return "MinIO" if self.kind == "minio" else f"versitygw {versions.VERSITYGW} (POSIX)"

    @property
    def match(self) -> str:
        return self.kind

    @property
    def store_dir(self) -> Path:
        return self.data_dir / self.kind

    def install(self) -> None:
        self._binary = tools.find(self.kind)
        if self._binary is not None:
            return
        settings = self.settings
        if self.kind == "minio":
            self._binary = builds.go_install(
                settings.cache,
                tool="minio",
                label="MinIO",
                module=versions.MINIO_MODULE,
                version=versions.MINIO,
                minutes=3,
                log_file=settings.layout.log_file("build-minio"),
            )
        else:
            self._binary = builds.go_install(
                settings.cache,
                tool="versitygw",
                label="versitygw",
                module=versions.VERSITYGW_MODULE,
                version=versions.VERSITYGW,
                minutes=2,
                log_file=settings.layout.log_file("build-versitygw"),
            )

    def prepare(self) -> None:
        super().prepare()
        self.store_dir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        if self._binary is None:
            raise RuntimeError("S3.install() must run before starting it")
        address = f"127.0.0.1:{self.port}"
        if self.kind == "minio":
            return [
                str(self._binary),
                "server",
                str(self.store_dir),
                "--address",
                address,
                "--console-address",
                f"127.0.0.1:{self.ports['s3_console']}",
            ]
        return [
            str(self._binary),
            "--access",
            S3_ACCESS_KEY,
            "--secret",
            S3_SECRET_KEY,
            "--region",
            S3_REGION,
            "--port",
            address,
            "posix",
            str(self.store_dir),
        ]

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.kind == "minio":
            env.update(
                MINIO_ROOT_USER=S3_ACCESS_KEY,
                MINIO_ROOT_PASSWORD=S3_SECRET_KEY,
                MINIO_REGION=S3_REGION,
                MINIO_UPDATE="off",  # no update checks against the internet
            )
        return env

    def _client(self) -> "Minio":
        try:
            import urllib3  # noqa: PLC0415 - only readiness and the bucket need the S3 client
            from minio import Minio  # noqa: PLC0415
        except ImportError as exc:
            raise CairnDevError("minio-py is missing: run `uv sync --all-packages`") from exc
        # No retries: the readiness loop retries, and a hung probe must not outlive its deadline.
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=1.0, read=3.0), retries=False)
        return Minio(
            f"127.0.0.1:{self.port}",
            access_key=S3_ACCESS_KEY,
            secret_key=S3_SECRET_KEY,
            secure=False,
            region=S3_REGION,
            http_client=http,
        )

    def check_ready(self) -> None:
        """A signed ListBuckets: proves the server is initialised and accepts our credentials."""
        import urllib3  # noqa: PLC0415
        from minio.error import MinioException  # noqa: PLC0415

        try:
            self._client().list_buckets()
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            why = str(exc)[:200]
            raise NotReadyError(f"S3 ListBuckets on 127.0.0.1:{self.port}: {why}") from exc

    def after_ready(self) -> None:
        from minio.error import MinioException  # noqa: PLC0415

        client, bucket = self._client(), self.settings.bucket
        try:
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)
        except MinioException as exc:
            raise CairnDevError(
                f"could not create the bucket {bucket!r} on 127.0.0.1:{self.port}: {exc}"
                " (set CAIRN_DEV_S3_BUCKET to a valid S3 bucket name)"
            ) from exc
