"""Apache Kafka as one KRaft node (broker and controller in one JVM) from Maven Central jars."""

import base64
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from cairn_dev import builds, kafka_protocol, process, tools, versions
from cairn_dev.components.base import Component
from cairn_dev.errors import CairnDevError
from cairn_dev.readiness import NotReadyError

MAIN_CLASS = "kafka.Kafka"
READINESS_GROUP = "cairn-dev-readiness"


def render_server_properties(*, log_dir: Path, port: int, controller_port: int) -> str:
    return f"""\
# Rendered by cairn-dev on each start; edit deploy/local/cairn_dev/components/kafka.py instead.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={log_dir}

# One node: every internal topic has a single replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1
num.partitions=1

# Tests start consumer groups all the time: no 3 s wait for more members.
group.initial.rebalance.delay.ms=0
# Topics are created on purpose (by the code that owns them), never by a typo.
auto.create.topics.enable=false

# The log cleaner (compacting __consumer_offsets) holds its dedupe buffer on the heap for good:
# 128 MiB by default, a quarter of ours, for offsets that fit in a few.
log.cleaner.dedupe.buffer.size=16777216
"""


def render_log4j2() -> str:
    # Kafka's INFO is chatty (full config dumps, one line per partition load): keep what helps.
    return """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.storage.name = org.apache.kafka.storage.internals.log
logger.storage.level = WARN
logger.unifiedlog.name = kafka.log
logger.unifiedlog.level = WARN
logger.partition.name = kafka.cluster.Partition
logger.partition.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.raft.name = org.apache.kafka.raft
logger.raft.level = WARN
logger.loader.name = org.apache.kafka.image
logger.loader.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = WARN
logger.purgatory.name = org.apache.kafka.server.purgatory
logger.purgatory.level = WARN
logger.timer.name = org.apache.kafka.server.util.timer
logger.timer.level = WARN
logger.runtime.name = org.apache.kafka.coordinator.common.runtime
logger.runtime.level = WARN
"""


def new_cluster_id(draw: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A Kafka Uuid: 16 random bytes, url-safe base64 without padding (22 characters).

    Never one that starts with "-" (one in 64 would), as Kafka's own ``Uuid.randomUuid``
    ensures: the storage tool reads such an id as an option, and `up` fails.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(draw()).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class Kafka(Component):
    name = "kafka"
    ready_timeout = 120.0  # a cold JVM on 2 cores, then __consumer_offsets creation

    _libs: Path | None = None
    _java: Path | None = None

    @property
    def port_names(self) -> tuple[str, ...]:
        return ("kafka", "kafka_controller")

    @property
    def backend(self) -> str:
        return f"Kafka {versions.KAFKA} (KRaft)"

    @property
    def match(self) -> str:
        return MAIN_CLASS

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "kraft-logs"

    def install(self) -> None:
        self._java = tools.require("java", "to run Kafka")
        layout = self.settings.layout
        self._libs = builds.kafka_libs(
            self.settings.cache, self.settings.repo, log_file=layout.log_file("build-kafka")
        )

    def _jvm(self, *, heap: str) -> list[str]:
        if self._java is None or self._libs is None:
            raise RuntimeError("Kafka.install() must run before starting Kafka")
        return [
            str(self._java),
            f"-Xmx{heap}",
            "-Xms256m",
            "-XX:+UseG1GC",
            # C1 only: on two shared cores, C2 compiling the broker's hot paths took CPU from
            # everything else for minutes after each start. Measured on fresh stacks, in
            # pairs: alias move to webhook p50 26 and 22 ms against 33 and 26; under the
            # 1,000-worker history load the broker used 1.7 µs of CPU a row against 4.0.
            "-XX:TieredStopAtLevel=1",
            # Regions of 4 MiB: with the default 1 MiB, a produce request over 512 KiB (a few
            # run history batches) is a humongous object, and each one started a concurrent
            # mark cycle: one a second under the history load, with pauses of 10 to 40 ms.
            "-XX:G1HeapRegionSize=4m",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            "-cp",
            f"{self._libs}/*",
        ]

    def prepare(self) -> None:
        super().prepare()
        props = self.data_dir / "server.properties"
        props.write_text(
            render_server_properties(
                log_dir=self.log_dir, port=self.port, controller_port=self.ports["kafka_controller"]
            )
        )
        (self.data_dir / "log4j2.properties").write_text(render_log4j2())
        if (self.log_dir / "meta.properties").is_file():
            return
        # A KRaft node's storage is formatted once, with a cluster id kept for later formats.
        id_file = self.data_dir / "cluster-id"
        # An id starting with "-" (older cairn-dev drew those) never formatted anything.
        if not id_file.is_file() or id_file.read_text().startswith("-"):
            id_file.write_text(new_cluster_id() + "\n")
        argv = [
            *self._jvm(heap="256m"),
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            id_file.read_text().strip(),
            "--config",
            str(props),
            "--ignore-formatted",
        ]
        with self.log_file.open("ab") as log:
            log.write(f"----- cairn-dev: formatting KRaft storage: {' '.join(argv)}\n".encode())
            log.flush()
            code = subprocess.run(
                argv,
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            ).returncode
        if code != 0:
            raise CairnDevError(
                f"formatting Kafka's storage failed (status {code}); see {self.log_file}:\n"
                f"{process.read_from(self.log_file, 0, 15)}"
            )

    def command(self) -> list[str]:
        gc_log = self.settings.layout.log_file("kafka-gc")
        return [
            *self._jvm(heap="512m"),
            f"-Xlog:gc:file={gc_log}:uptime,level:filecount=2,filesize=10m",
            MAIN_CLASS,
            str(self.data_dir / "server.properties"),
        ]

    def check_ready(self) -> None:
        try:
            error, message = kafka_protocol.find_coordinator(
                "127.0.0.1", self.port, READINESS_GROUP
            )
        except (OSError, kafka_protocol.KafkaProtocolError) as exc:
            raise NotReadyError(f"Kafka on 127.0.0.1:{self.port}: {exc}") from exc
        if error != 0:
            name = kafka_protocol.ERROR_NAMES.get(error, f"error {error}")
            raise NotReadyError(
                f"group coordinator not ready yet ({name}{': ' if message else ''}{message})"
            )
