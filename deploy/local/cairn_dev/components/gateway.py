"""The gateway: nginx from Debian, run as a plain process with its own prefix under the data dir.

Routes /<service>/... to the service with the prefix stripped, balancing over its replicas: only
the services with a public API (instances.GATEWAY_SERVICES), never a worker such as the history
writer, which serves nothing but its own /healthz, /readyz and /metrics. The config is rendered
from deploy/local/nginx/nginx.conf.template on every start, so it always points at the current
ports, and again when `up` changes the replicas (then nginx reloads it: SIGHUP).
"""

import os
import pwd
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from cairn_dev import tools
from cairn_dev.components.base import Component
from cairn_dev.errors import CairnDevError
from cairn_dev.instances import GATEWAY_SERVICES
from cairn_dev.readiness import NotReadyError, http_get

TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


# Idle keep-alive connections per upstream and nginx worker. With fewer than the requests in
# flight, nginx opens and closes a connection per request: with 16, 1,000 workers logging
# history made 220 new connections a second to ingest.
UPSTREAM_KEEPALIVE = 256


def render_upstreams(upstreams: Mapping[str, Sequence[int]]) -> str:
    blocks = []
    for service, ports in upstreams.items():
        # max_fails=0: never mark a lone replica "down" for 10 s after a restart.
        servers = "".join(f"        server 127.0.0.1:{port} max_fails=0;\n" for port in ports)
        keepalive = f"        keepalive {UPSTREAM_KEEPALIVE};\n"
        blocks.append(f"    upstream cairn_{service} {{\n{servers}{keepalive}    }}")
    return "\n\n".join(blocks)


def render_locations(services: Sequence[str]) -> str:
    return "\n\n".join(
        f"        location /{service}/ {{\n"
        f"            proxy_pass http://cairn_{service}$cairn_upstream_uri;\n"
        "        }"
        for service in services
    )


def render_config(
    template: str,
    *,
    prefix: Path,
    port: int,
    upstreams: Mapping[str, Sequence[int]],
    user: str | None,
) -> str:
    """The nginx.conf for this stack; `user` only when the master runs as root."""
    values = {
        # As root, workers would drop to `nobody`, which may not traverse the data dir's parents.
        "user": f"user {user};" if user else "# (not root: workers run as the current user)",
        "prefix": str(prefix),
        "port": str(port),
        "upstreams": render_upstreams(upstreams),
        "locations": render_locations(list(upstreams)),
        "services": ", ".join(f"/{name}/" for name in upstreams),
    }
    rendered = template
    for key, value in values.items():
        rendered = rendered.replace("{{" + key + "}}", value)
    return rendered


def install_nginx() -> Path:
    """nginx from PATH or /usr/sbin; as root on Debian, apt-get installs it once."""
    found = tools.find("nginx", "/usr/sbin")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise CairnDevError(
            "nginx is needed for the gateway but is not installed: "
            "run `sudo apt-get install nginx` (or put nginx on PATH)"
        )
    click.echo("installing nginx from Debian (first time only, ~20 s)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "nginx"],
    ):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise CairnDevError(
                f"`{' '.join(argv)}` failed:\n{(done.stdout + done.stderr).strip()[-2000:]}\n"
                "install nginx by hand and retry"
            )
    found = tools.find("nginx", "/usr/sbin")
    if found is None:
        raise CairnDevError("apt-get installed nginx but no nginx binary was found")
    return found


class Gateway(Component):
    name = "gateway"
    ready_timeout = 20.0

    _nginx: Path | None = None

    @property
    def backend(self) -> str:
        return "nginx"

    @property
    def match(self) -> str:
        return "nginx"

    @property
    def conf(self) -> Path:
        return self.data_dir / "nginx.conf"

    def install(self) -> None:
        self._nginx = install_nginx()

    def _base_argv(self) -> list[str]:
        if self._nginx is None:
            raise RuntimeError("Gateway.install() must run before starting it")
        # -e: the startup error log goes to stderr, not the compiled-in /var/log/nginx path.
        return [str(self._nginx), "-e", "stderr", "-p", f"{self.data_dir}/", "-c", str(self.conf)]

    def render(self) -> str:
        template = self.settings.repo / "deploy" / "local" / "nginx" / "nginx.conf.template"
        user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None
        return render_config(
            template.read_text(),
            prefix=self.data_dir,
            port=self.port,
            upstreams={name: self.settings.replica_ports(name) for name in GATEWAY_SERVICES},
            user=user,
        )

    def prepare(self) -> None:
        super().prepare()
        for name in TEMP_DIRS:
            (self.data_dir / "tmp" / name).mkdir(parents=True, exist_ok=True)
        self._write_checked(self.render())

    def _write_checked(self, config: str) -> None:
        self.conf.write_text(config)
        test = subprocess.run(
            [*self._base_argv(), "-t", "-q"], capture_output=True, text=True, check=False
        )
        if test.returncode != 0:
            raise CairnDevError(f"nginx rejected the rendered {self.conf}:\n{test.stderr.strip()}")

    def refresh(self, pid: int) -> bool:
        """Re-render the config of the running gateway `pid`; if it changed (other replicas),
        have nginx reload it without dropping connections. True if it reloaded."""
        config = self.render()
        try:
            if self.conf.read_text() == config:
                return False
        except FileNotFoundError:
            pass
        self.install()
        self._write_checked(config)
        os.kill(pid, signal.SIGHUP)  # the master re-reads the config and replaces its workers
        return True

    def command(self) -> list[str]:
        return self._base_argv()

    def check_ready(self) -> None:
        url = f"http://127.0.0.1:{self.port}/healthz"
        status, body = http_get(url)
        if status != 200 or b'"ok"' not in body:
            raise NotReadyError(f"GET {url} answered {status}: {body[:200]!r}")
