"""``cairn.Artifact``: a versioned set of files, W&B's ``wandb.Artifact``.

A new artifact is a *draft*: add files, folders and references, then log it with
``run.log_artifact(artifact)`` or ``artifact.save()``. Once logged it is final; its version
(``v0``, ``v1``...) is known when the server has committed it (``artifact.wait()``; properties
that need it wait by themselves). ``new_draft()`` starts a new version from it.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from cairn.artifacts import download as dl
from cairn.artifacts import remote
from cairn.artifacts.core import ArtifactCore, LoggedState
from cairn.artifacts.draft import check_layout
from cairn.artifacts.manifest import ArtifactManifestEntry
from cairn.names import check_alias, check_metadata
from cairn.session import Session


class Artifact(ArtifactCore):
    """A versioned set of files: ``Artifact(name, type, description=None, metadata=None)``.

    ``name`` uses letters, digits, ``-``, ``_`` and ``.`` (at most 128); ``type`` (such as
    ``"dataset"`` or ``"model"``) has no ``/`` or ``:``; ``metadata`` is a JSON dict of at most
    100 keys. A bad value raises ``ValueError`` before anything is sent.
    """

    # -- building a draft ----------------------------------------------------------------------

    def add_file(
        self, local_path: str | os.PathLike[str], name: str | None = None, overwrite: bool = False
    ) -> ArtifactManifestEntry:
        """Add a local file, as ``name`` (default: its file name). Hashes it (SHA-256)."""
        return self._editable().add_file(local_path, name, overwrite)

    def add_dir(
        self, local_path: str | os.PathLike[str], name: str | None = None, merge: bool = False
    ) -> None:
        """Add every file under a local folder, under the prefix ``name`` if given."""
        self._editable().add_dir(local_path, name, merge)

    @contextlib.contextmanager
    def new_file(
        self, name: str, mode: str = "w", encoding: str | None = None
    ) -> Iterator[IO[Any]]:
        """Open a new file to write into the artifact: ``with artifact.new_file("a.txt") as f``."""
        with self._editable().new_file(name, mode, encoding) as f:
            yield f

    def add_reference(
        self,
        uri: str,
        name: str | None = None,
        checksum: bool = True,
        max_objects: int | None = None,
    ) -> list[ArtifactManifestEntry]:
        """Track a ``file://``, ``s3://`` or ``http(s)://`` file or folder without uploading it.

        With ``checksum`` the content is identified (SHA-256 for files, the ETag for S3 and
        HTTP) so a download can be verified; without, only the URI is recorded.
        """
        return self._editable().add_reference(uri, name, checksum, max_objects)

    def remove(self, item: str | ArtifactManifestEntry) -> None:
        """Remove an entry (or the entry at a path) from a draft."""
        self._editable().remove(item.path if isinstance(item, ArtifactManifestEntry) else item)

    # -- logging -------------------------------------------------------------------------------

    def save(self, project: str | None = None) -> None:
        """Log the artifact through the active run, or through a run of its own (job type
        ``auto``) that finishes once the artifact is committed."""
        from cairn.sdk.run import init  # noqa: PLC0415 - the run module imports this one
        from cairn.sdk.state import active_run  # noqa: PLC0415

        run = active_run()
        if run is not None:
            run.log_artifact(self)
            return
        with init(project=project, job_type="auto") as own_run:
            own_run.log_artifact(self)

    def _log(
        self, session: Session, place: remote.Place, run_id: str, aliases: Sequence[str]
    ) -> None:
        """Upload and submit; the artifact is final from here on (see ``wait``)."""
        draft = self._editable()
        manifest = draft.manifest
        check_layout(manifest)
        check_metadata(self._metadata)  # the draft's dict may have grown since
        wanted = list(dict.fromkeys(check_alias(a) for a in [*self._aliases, *aliases]))
        submission = remote.Submission(
            self._name, self._type, self._description, self._metadata, wanted, run_id
        )
        submission_id, digest = remote.submit(session, place, submission, manifest)
        self._draft = None
        draft.discard_staging()
        self._aliases = wanted
        self._logged = LoggedState(session, place, digest, submission_id=submission_id)

    # -- reading a logged artifact -----------------------------------------------------------

    def files(self, names: Sequence[str] | None = None) -> list[ArtifactManifestEntry]:
        """The entries (path, digest, size, ref), optionally only those in ``names``."""
        entries = self._load_manifest().entries
        chosen = entries.values() if names is None else (entries[n] for n in names if n in entries)
        return [replace(e, _artifact=self) for e in chosen]

    def get_entry(self, name: str) -> ArtifactManifestEntry:
        """The entry at ``name``; ``entry.download()`` fetches that one file."""
        entry = self._load_manifest().entries.get(name)
        if entry is None:
            raise KeyError(f"{name!r} is not a file of artifact {self._name!r}")
        return replace(entry, _artifact=self)

    get_path = get_entry  # W&B's older name for get_entry

    def _default_root(self) -> Path:
        base = Path(os.environ.get("CAIRN_ARTIFACT_DIR") or "./artifacts")
        folder = f"{self._name}:{self.version}"
        return base / (folder.replace(":", "-") if os.name == "nt" else folder)

    def _root(self, root: str | os.PathLike[str] | None) -> Path:
        return Path(root) if root is not None else self._default_root()

    def download(
        self, root: str | os.PathLike[str] | None = None, path_prefix: str | None = None
    ) -> str:
        """Download the files (those under ``path_prefix`` if given) into ``root`` (default
        ``./artifacts/<name>:vN``), fetching only what the local cache lacks; returns root."""
        logged, dest = self._require_logged(), self._root(root)
        entries = self._load_manifest().entries.values()
        chosen = [e for e in entries if path_prefix is None or e.path.startswith(path_prefix)]
        dl.download_entries(logged.session, logged.place.entity, chosen, dest)
        return str(dest)

    def _download_entry(self, entry: ArtifactManifestEntry, root: str | None) -> str:
        logged, dest = self._require_logged(), self._root(root)
        dl.download_entries(logged.session, logged.place.entity, [entry], dest)
        return str(dest / entry.path)

    def verify(self, root: str | os.PathLike[str] | None = None) -> None:
        """Raise ``ArtifactVerificationError`` (a ``ValueError``) unless ``root`` holds
        exactly this artifact's files: none missing, changed or extra."""
        self._require_logged()
        dl.verify(self._load_manifest(), self._root(root))

    def checkout(self, root: str | os.PathLike[str] | None = None) -> str:
        """Download, then delete files in ``root`` that are not in the artifact; returns root."""
        dest = self.download(root)
        dl.remove_extra(self._load_manifest(), Path(dest))
        return dest

    def new_draft(self) -> Artifact:
        """A new draft with this artifact's name, type, description, metadata and files."""
        draft = Artifact(self._name, self._type, self._description, copy.deepcopy(self._metadata))
        for path, entry in self._load_manifest().entries.items():
            # The bytes of a logged artifact are in storage: no local file to re-upload.
            keep_local = self._logged is None
            draft._local_manifest().entries[path] = replace(
                entry,
                local_path=entry.local_path if keep_local else None,
                mtime_ns=entry.mtime_ns if keep_local else None,
                _artifact=None,
            )
        return draft
