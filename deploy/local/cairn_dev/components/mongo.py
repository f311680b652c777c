"""The MongoDB wire-protocol server: `mongod` when installed, else FerretDB on SQLite.

FerretDB comes from our own small Go program (deploy/local/ferretdb) that embeds FerretDB's
package, built once into the cache. Each backend keeps its own data directory: their files are
not interchangeable.
"""

from pathlib import Path

from cairn_dev import builds, tools, versions
from cairn_dev.components.base import Component
from cairn_dev.errors import CairnDevError
from cairn_dev.readiness import NotReadyError

FERRETDB_BINARY = "cairn-ferretdb"
# Go's collector at 400 % heap growth rather than 100 %: under the 1,000-run history load it
# took a tenth of FerretDB's CPU, and FerretDB's heap stays under 100 MB even so. Measured in
# pairs on one stack: 3.5 and 3.9 µs of FerretDB's CPU per row against 4.3.
FERRETDB_GOGC = "400"


class Mongo(Component):
    name = "mongo"
    ready_timeout = 60.0

    _binary: Path | None = None

    @property
    def kind(self) -> str:
        """`mongod` or `ferretdb`, as chosen by CAIRN_DEV_MONGO (auto: mongod if on PATH)."""
        chosen = self.settings.mongo_backend
        if chosen == "auto":
            return "mongod" if tools.find("mongod") else "ferretdb"
        return chosen

    @property
    def backend(self) -> str:
        return "mongod" if self.kind == "mongod" else f"FerretDB {versions.FERRETDB} (SQLite)"

    @property
    def match(self) -> str:
        return "mongod" if self.kind == "mongod" else FERRETDB_BINARY

    @property
    def store_dir(self) -> Path:
        return self.data_dir / self.kind

    def install(self) -> None:
        if self.kind == "mongod":
            self._binary = tools.find("mongod")
            if self._binary is None:
                raise CairnDevError(
                    "CAIRN_DEV_MONGO=mongod but `mongod` is not on PATH: install MongoDB or "
                    "unset CAIRN_DEV_MONGO to use FerretDB"
                )
            return
        layout = self.settings.layout
        self._binary = builds.ferretdb_binary(
            self.settings.cache, self.settings.repo, log_file=layout.log_file("build-ferretdb")
        )

    def prepare(self) -> None:
        super().prepare()
        self.store_dir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        if self._binary is None:
            raise RuntimeError("Mongo.install() must run before starting it")
        if self.kind == "mongod":
            return [
                str(self._binary),
                "--dbpath",
                str(self.store_dir),
                "--bind_ip",
                "127.0.0.1",
                "--port",
                str(self.port),
            ]
        return [
            str(self._binary),
            "-listen-addr",
            f"127.0.0.1:{self.port}",
            "-data-dir",
            str(self.store_dir),
        ]

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.kind == "ferretdb":
            env.setdefault("GOGC", FERRETDB_GOGC)  # an operator's own GOGC wins
        return env

    def check_ready(self) -> None:
        try:
            import pymongo  # noqa: PLC0415 - only the readiness check needs the driver
            from pymongo.errors import PyMongoError  # noqa: PLC0415
        except ImportError as exc:
            raise CairnDevError("pymongo is missing: run `uv sync --all-packages`") from exc
        client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
            "127.0.0.1",
            self.port,
            directConnection=True,
            serverSelectionTimeoutMS=1000,
            connectTimeoutMS=1000,
            socketTimeoutMS=3000,
        )
        try:
            client.admin.command("ping")
        except PyMongoError as exc:
            raise NotReadyError(f"ping to 127.0.0.1:{self.port}: {str(exc)[:200]}") from exc
        finally:
            client.close()
