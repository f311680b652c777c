"""The nginx config the gateway runs with, rendered from deploy/local/nginx/."""

import subprocess
from pathlib import Path

import pytest
from cairn_dev import tools
from cairn_dev.components.gateway import render_config
from cairn_dev.paths import repo_root

UPSTREAMS = {"ingest": [18081], "manifest": [18082, 28082]}


def rendered(tmp_path: Path, *, user: str | None = None) -> str:
    template = (repo_root() / "deploy/local/nginx/nginx.conf.template").read_text()
    return render_config(template, prefix=tmp_path, port=18080, upstreams=UPSTREAMS, user=user)


def test_every_placeholder_is_filled(tmp_path: Path) -> None:
    assert "{{" not in rendered(tmp_path)


def test_each_service_gets_an_upstream_with_keepalive_and_a_prefix_route(tmp_path: Path) -> None:
    conf = rendered(tmp_path)

    assert "upstream cairn_manifest {" in conf
    assert "server 127.0.0.1:18082 max_fails=0;" in conf
    assert "server 127.0.0.1:28082 max_fails=0;" in conf  # replicas are more server lines
    assert "keepalive 256;" in conf
    assert "location /ingest/ {" in conf
    assert "proxy_pass http://cairn_ingest$cairn_upstream_uri;" in conf


def test_it_listens_on_loopback_and_keeps_everything_under_the_prefix(tmp_path: Path) -> None:
    conf = rendered(tmp_path)

    assert "listen 127.0.0.1:18080;" in conf
    assert f"pid {tmp_path}/nginx.pid;" in conf
    assert f"client_body_temp_path {tmp_path / 'tmp' / 'client_body'};" in conf
    assert "/var/log/nginx" not in conf


def test_it_streams_forwards_identity_and_answers_errors_in_json(tmp_path: Path) -> None:
    conf = rendered(tmp_path)

    for line in (
        "client_max_body_size 64m;",
        "proxy_request_buffering off;",
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header Authorization $http_authorization;",
        "proxy_set_header X-Request-Id $cairn_request_id;",
        "error_page 502 503 /_cairn/unavailable;",
        '"code":"service_unavailable"',
        'return 200 \'{"status":"ok"}\\n\';',
    ):
        assert line in conf


def test_the_user_directive_only_as_root(tmp_path: Path) -> None:
    assert "user root;" in rendered(tmp_path, user="root")
    assert "\nuser " not in rendered(tmp_path)


def test_nginx_accepts_the_rendered_config(tmp_path: Path) -> None:
    nginx = tools.find("nginx", "/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed (cairn-dev up gateway installs it)")
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "tmp" / name).mkdir(parents=True)
    conf = tmp_path / "nginx.conf"
    conf.write_text(rendered(tmp_path))

    result = subprocess.run(
        [str(nginx), "-e", "stderr", "-p", f"{tmp_path}/", "-c", str(conf), "-t"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
