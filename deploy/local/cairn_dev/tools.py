"""Finding the external programs the stack needs, with install hints when one is missing."""

import shutil
from pathlib import Path

from cairn_dev.errors import CairnDevError

HINTS = {
    "java": "install a Java 17+ runtime, e.g. `apt-get install openjdk-17-jre-headless`",
    "mvn": "install Maven, e.g. `apt-get install maven`",
    "go": "install Go 1.24 or newer (https://go.dev/dl) and put it on PATH",
    "nginx": "install nginx, e.g. `sudo apt-get install nginx`",
}


def find(name: str, *extra_dirs: str) -> Path | None:
    found = shutil.which(name)
    if found:
        return Path(found)
    for directory in extra_dirs:
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate
    return None


def require(name: str, purpose: str) -> Path:
    path = find(name, "/usr/local/go/bin") if name == "go" else find(name)
    if path is None:
        hint = HINTS.get(name, f"install {name} and put it on PATH")
        raise CairnDevError(f"`{name}` is needed {purpose} but is not on PATH: {hint}")
    return path
