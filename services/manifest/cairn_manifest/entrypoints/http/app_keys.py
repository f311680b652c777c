from __future__ import annotations

from aiohttp import web
from cairn_shared.blobstore import BlobStore

from cairn_manifest.adapters.artifact_repository import ArtifactRepository
from cairn_manifest.adapters.submission_repository import SubmissionRepository

ARTIFACTS = web.AppKey("artifacts", ArtifactRepository)
SUBMISSIONS = web.AppKey("submissions", SubmissionRepository)
# A port: only the "is it a file?" hint of a 404 reads manifests from object storage.
BLOBS: web.AppKey[BlobStore] = web.AppKey("blobs")
