from __future__ import annotations

from aiohttp import web
from cairn_shared.blobstore import S3BlobStore

from cairn_storage.adapters.blob_index import BlobIndex
from cairn_storage.adapters.metrics import StorageMetrics
from cairn_storage.service_layer.uploads import UploadPolicy

BLOBS = web.AppKey("blobs", S3BlobStore)
INDEX = web.AppKey("blob_index", BlobIndex)
POLICY = web.AppKey("upload_policy", UploadPolicy)
STORAGE_METRICS = web.AppKey("storage_metrics", StorageMetrics)
