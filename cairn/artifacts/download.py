"""Downloading: blobs through the content cache (fetched only when missing, verified while
streaming), references from where they live; every file lands atomically (temp + rename)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cairn.artifacts import references
from cairn.artifacts.hashing import hash_files
from cairn.artifacts.manifest import SHA256_HEX, ArtifactManifestEntry, Manifest
from cairn.artifacts.transfer import Slice, fetch_verified, fetch_verified_slices, run_parallel
from cairn.artifacts.upload import batches
from cairn.errors import ArtifactVerificationError
from cairn.http import segment
from cairn.progress import Progress, progress_bar
from cairn.session import Session


@dataclass(frozen=True)
class Remote:
    """Where to GET a blob: a whole object, or (packed) ``size`` bytes from ``offset``."""

    url: str
    offset: int | None = None
    size: int = 0


def locate(session: Session, entity: str, digests: Sequence[str]) -> dict[str, Remote]:
    """Presigned GETs for ``digests``, asked for in batches."""
    found: dict[str, Remote] = {}
    path = f"/storage/v1/entities/{segment(entity)}/downloads"
    for batch in batches(list(digests)):
        answer = session.api.post(path, {"digests": list(batch)})
        ranges: dict[str, dict[str, int]] = answer.get("ranges", {})
        for digest, url in answer["urls"].items():
            where = ranges.get(digest)
            found[digest] = (
                Remote(url)
                if where is None
                else Remote(url, int(where["offset"]), int(where["size"]))
            )
    return found


def _fetch_into_cache(
    session: Session, remote: Remote, digest: str, size: int | None, bar: Progress
) -> Path:
    if remote.offset is not None:
        return _fetch_packed_into_cache(session, remote.url, {digest: remote}, bar)[digest]
    tmp = session.cache.new_tmp()
    try:
        fetch_verified(session.objects, remote.url, tmp, digest=digest, size=size, bar=bar)
        return session.cache.commit(tmp, digest)
    finally:
        tmp.unlink(missing_ok=True)


def _fetch_packed_into_cache(
    session: Session, url: str, members: dict[str, Remote], bar: Progress
) -> dict[str, Path]:
    """Blobs of one pack, in one ranged GET (the span from the first to the last)."""
    slices = [
        Slice(int(r.offset or 0), r.size, digest, session.cache.new_tmp())
        for digest, r in members.items()
    ]
    try:
        fetch_verified_slices(session.objects, url, slices, bar=bar)
        return {s.digest: session.cache.commit(s.dest, s.digest) for s in slices}
    finally:
        for s in slices:
            s.dest.unlink(missing_ok=True)


def fetch_manifest(session: Session, entity: str, digest: str) -> Manifest:
    """The manifest blob, from the cache or storage; its digest checks it."""
    cached = session.cache.lookup(digest, None)
    # Small enough to check again on every read: a damaged copy is dropped and fetched anew.
    if cached is not None and hashlib.sha256(raw := cached.read_bytes()).hexdigest() == digest:
        return Manifest.from_bytes(raw)
    remote = locate(session, entity, [digest])[digest]
    with progress_bar(None, "Manifest") as bar:
        fetched = _fetch_into_cache(session, remote, digest, None, bar)
    return Manifest.from_bytes(fetched.read_bytes())


def _temp_beside(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.cairn-{uuid.uuid4().hex[:12]}"


def place(obj: Path, dest: Path) -> None:
    """Put the cached blob at ``dest`` atomically: a hard link (no copy of the bytes) when the
    cache and ``dest`` share a file system, else a copy."""
    try:
        try:
            os.link(obj, dest)  # the usual case, one call: nothing there yet
        except FileNotFoundError:  # its folder is new
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.link(obj, dest)
        return
    except FileExistsError:
        with contextlib.suppress(FileNotFoundError):
            if obj.samefile(dest):
                return
    except OSError:
        pass  # another file system, or no hard links: copy below
    tmp = _temp_beside(dest)
    try:
        try:
            os.link(obj, tmp)
        except OSError:
            shutil.copyfile(obj, tmp)
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


def download_entries(
    session: Session, entity: str, entries: Sequence[ArtifactManifestEntry], root: Path
) -> None:
    """Make ``root`` hold ``entries``, fetching only blobs the cache lacks."""
    blobs = [e for e in entries if e.ref is None]
    refs = [e for e in entries if e.ref is not None]
    found: dict[str, Path] = {}
    missing: dict[str, int] = {}
    for entry in blobs:
        if entry.digest in found or entry.digest in missing:
            continue
        hit = session.cache.lookup(entry.digest, entry.size)
        if hit is not None:
            found[entry.digest] = hit
        else:
            missing[entry.digest] = entry.size
    total = sum(missing.values()) + sum(e.size for e in refs)
    label = "1 file" if len(entries) == 1 else f"{len(entries)} files"
    with progress_bar(total, f"Downloading {label}") as bar:
        if missing:
            session.cache.make_room(sum(missing.values()), keep=found)
        # Batch by batch: presigned GETs expire, so no URL waits behind a long queue.
        for batch in batches(list(missing)):
            remotes = locate(session, entity, batch)
            packs: dict[str, dict[str, Remote]] = {}
            for digest, remote in remotes.items():
                if remote.offset is not None:
                    packs.setdefault(remote.url, {})[digest] = remote
            whole = [d for d in batch if remotes[d].offset is None]

            def fetch(digest: str, remotes: dict[str, Remote] = remotes) -> None:
                found[digest] = _fetch_into_cache(
                    session, remotes[digest], digest, missing[digest], bar
                )

            def fetch_pack(url: str, packs: dict[str, dict[str, Remote]] = packs) -> None:
                found.update(_fetch_packed_into_cache(session, url, packs[url], bar))

            run_parallel(fetch_pack, list(packs))
            run_parallel(fetch, whole)
        for entry in blobs:
            place(found[entry.digest], root / entry.path)

        def fetch_reference(entry: ArtifactManifestEntry) -> None:
            dest = root / entry.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = _temp_beside(dest)
            try:
                references.fetch(entry, tmp, session.transfer)
                tmp.replace(dest)
            finally:
                tmp.unlink(missing_ok=True)
            bar.update(entry.size)

        run_parallel(fetch_reference, refs)
    # What was just fetched may itself overflow a small cache: the download root keeps it.
    session.cache.make_room(0)


def local_files(root: Path) -> set[str]:
    """Every file under ``root``, as POSIX paths relative to it."""
    if not root.is_dir():
        return set()
    return {
        Path(top, name).relative_to(root).as_posix()
        for top, _, names in os.walk(root)
        for name in names
    }


def verify(manifest: Manifest, root: Path) -> None:
    """Raise ``ArtifactVerificationError`` unless ``root`` holds exactly the manifest's files
    with their content (re-hashed, never taken from a cache)."""
    entries = manifest.entries
    present = local_files(root)
    missing = sorted(p for p in entries if p not in present)
    extra = sorted(p for p in present if p not in entries)
    changed = sorted(
        p
        for p in entries
        if p in present and entries[p].size and (root / p).stat().st_size != entries[p].size
    )
    hashable = [
        p
        for p, e in entries.items()
        if p in present and p not in changed and SHA256_HEX.fullmatch(e.digest)
    ]
    digests = hash_files([root / p for p in hashable], None, desc="Verifying")
    changed += [p for p, d in zip(hashable, digests, strict=True) if d.digest != entries[p].digest]
    problems = [
        f"{label}: {', '.join(paths[:10])}{' ...' if len(paths) > 10 else ''}"
        for label, paths in (("missing", missing), ("changed", sorted(changed)), ("extra", extra))
        if paths
    ]
    if problems:
        raise ArtifactVerificationError(
            f"{root} does not match the artifact ({'; '.join(problems)}); "
            "run artifact.checkout(root) to restore it"
        )


def remove_extra(manifest: Manifest, root: Path) -> list[str]:
    """Delete files under ``root`` that are not in the manifest, then empty folders."""
    removed = sorted(p for p in local_files(root) if p not in manifest.entries)
    for rel in removed:
        (root / rel).unlink()
    for top, dirs, _ in os.walk(root, topdown=False):
        for d in dirs:
            with contextlib.suppress(OSError):  # not empty
                (Path(top) / d).rmdir()
    return removed
