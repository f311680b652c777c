"""What a draft artifact holds before it is logged: entries with their local files, and the
staging folder that ``new_file`` writes into."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx

from cairn.artifacts.hashing import DigestCache, hash_files
from cairn.artifacts.manifest import ArtifactManifestEntry, Manifest
from cairn.artifacts.references import reference_entries
from cairn.http import tls_context
from cairn.names import check_entry_path


class DraftContents:
    """The entries of a draft; every path is validated (relative, no ``..``) as it is added."""

    def __init__(self, manifest: Manifest, digests: DigestCache) -> None:
        self.manifest = manifest
        self.digests = digests
        self._staging: Path | None = None

    def _put(self, entry: ArtifactManifestEntry, overwrite: bool) -> ArtifactManifestEntry:
        current = self.manifest.entries.get(entry.path)
        if current is not None and not overwrite and current.digest != entry.digest:
            raise ValueError(
                f"{entry.path!r} is already in the artifact with other content; pass "
                "overwrite=True (add_file) or merge=True (add_dir) to replace it"
            )
        self.manifest.entries[entry.path] = entry
        return entry

    def add_file(
        self, local_path: str | os.PathLike[str], name: str | None, overwrite: bool
    ) -> ArtifactManifestEntry:
        path = Path(local_path)
        if not path.is_file():
            hint = "; use add_dir for a folder" if path.is_dir() else ""
            raise ValueError(f"add_file: {path} is not a file{hint}")
        entry_name = check_entry_path(name if name is not None else path.name)
        (digest,) = hash_files([path], self.digests)
        entry = ArtifactManifestEntry(
            entry_name, digest.digest, digest.size, local_path=digest.path, mtime_ns=digest.mtime_ns
        )
        return self._put(entry, overwrite)

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None, merge: bool) -> None:
        root = Path(local_path)
        if not root.is_dir():
            raise ValueError(f"add_dir: {root} is not a folder; use add_file for a file")
        if name is not None:
            check_entry_path(name)
        files = sorted(
            Path(top, f) for top, _, names in os.walk(root, followlinks=True) for f in names
        )
        names = []
        for file in files:
            rel = file.relative_to(root).as_posix()
            names.append(check_entry_path(f"{name}/{rel}" if name else rel))
        for entry_name, digest in zip(names, hash_files(files, self.digests), strict=True):
            entry = ArtifactManifestEntry(
                entry_name,
                digest.digest,
                digest.size,
                local_path=digest.path,
                mtime_ns=digest.mtime_ns,
            )
            self._put(entry, merge)

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str, encoding: str | None) -> Iterator[IO[Any]]:
        check_entry_path(name)
        if name in self.manifest.entries:
            raise ValueError(f"{name!r} is already in the artifact; pick another name")
        if not any(flag in mode for flag in "wx"):
            raise ValueError(f"new_file: mode {mode!r} must write ('w', 'wb', 'x' or 'xb')")
        path = self.staging() / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open(mode, encoding=encoding) as f:
            yield f
        self.add_file(path, name, overwrite=False)

    def add_reference(
        self, uri: str, name: str | None, checksum: bool, max_objects: int | None
    ) -> list[ArtifactManifestEntry]:
        with httpx.Client(follow_redirects=True, timeout=60, verify=tls_context()) as client:
            entries = reference_entries(
                uri,
                name,
                checksum=checksum,
                max_objects=max_objects,
                digests=self.digests,
                client=client,
            )
        return [self._put(entry, overwrite=False) for entry in entries]

    def remove(self, name: str) -> None:
        if self.manifest.entries.pop(name, None) is None:
            raise FileNotFoundError(f"{name!r} is not in the artifact")

    def staging(self) -> Path:
        """A private folder for ``new_file``, removed when the draft is logged or collected."""
        if self._staging is None:
            self._staging = Path(tempfile.mkdtemp(prefix="cairn-staging-"))
            weakref.finalize(self, shutil.rmtree, self._staging, ignore_errors=True)
        return self._staging

    def discard_staging(self) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)


def check_layout(manifest: Manifest) -> None:
    """No path may be both a file and a folder (``a`` and ``a/b``): no download could hold it."""
    paths = manifest.entries
    for path in paths:
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent in paths:
                raise ValueError(
                    f"{parent!r} is a file of the artifact and also a folder holding {path!r}"
                )
