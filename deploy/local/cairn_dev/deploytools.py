"""Tools that render the deployment manifests (deploy/k8s): kustomize, pinned and cached.

`cairn-dev tools` builds them ahead of time; tests/deploy asks for them the same way, so a fresh
machine builds kustomize once (about a minute) and every later run takes it from the cache.
CAIRN_DEV_KUSTOMIZE picks another one: `kubectl` (its built-in `kubectl kustomize`) or a path.
"""

import os
import subprocess
from pathlib import Path

from cairn_dev import builds, tools, versions
from cairn_dev.errors import CairnDevError
from cairn_dev.paths import cache_root

KUSTOMIZE_VAR = "CAIRN_DEV_KUSTOMIZE"


def kustomize_argv(cache: Path | None = None) -> list[str]:
    """The argv that renders a kustomization: append the directory."""
    override = os.environ.get(KUSTOMIZE_VAR, "").strip()
    if override == "kubectl":
        return [str(tools.require("kubectl", f"for {KUSTOMIZE_VAR}=kubectl")), "kustomize"]
    if override:
        path = Path(override).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise CairnDevError(
                f"{KUSTOMIZE_VAR}={override!r} is not an executable file (or `kubectl`)"
            )
        return [str(path), "build"]
    cache = cache_root() if cache is None else cache
    binary = builds.go_install(
        cache,
        tool="kustomize",
        label="kustomize",
        module=versions.KUSTOMIZE_MODULE,
        version=versions.KUSTOMIZE,
        minutes=1,
        log_file=cache / "kustomize" / f"build-{versions.KUSTOMIZE}.log",
    )
    return [str(binary), "build"]


def render(kustomization: Path, argv: list[str] | None = None) -> str:
    """The YAML stream that the kustomization directory renders to."""
    argv = kustomize_argv() if argv is None else argv
    done = subprocess.run(
        [*argv, str(kustomization)], capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode != 0:
        raise CairnDevError(
            f"`{' '.join(argv)} {kustomization}` failed (status {done.returncode}):\n"
            f"{done.stderr.strip()[-3000:]}"
        )
    return done.stdout
