"""The pins in cairn_dev/versions.py agree with the files that repeat them."""

import re

from cairn_dev import versions
from cairn_dev.paths import repo_root


def test_the_ferretdb_program_requires_the_pinned_version() -> None:
    go_mod = (repo_root() / "deploy/local/ferretdb/go.mod").read_text()

    assert f"github.com/FerretDB/FerretDB {versions.FERRETDB}" in go_mod


def test_the_pom_defaults_match_the_pins() -> None:
    pom = (repo_root() / "deploy/local/kafka/pom.xml").read_text()

    assert f"<kafka.version>{versions.KAFKA}</kafka.version>" in pom
    assert f"<log4j.version>{versions.LOG4J}</log4j.version>" in pom
    assert f"<slf4j.version>{versions.SLF4J}</slf4j.version>" in pom


def test_the_shim_pins_uv() -> None:
    shim = (repo_root() / "cairn-dev").read_text()

    assert re.search(r"^UV_VERSION=\d+\.\d+\.\d+$", shim, re.MULTILINE)
    assert "sync --all-packages --frozen" in shim
