"""Outages of what storage depends on are a 503 the client may retry, not a 500."""

from __future__ import annotations

import structlog
from aiohttp import web
from aiokafka.errors import KafkaError
from cairn_shared.http.errors import unavailable
from cairn_shared.http.middlewares import HandlerFn
from minio.error import MinioException
from pymongo.errors import ConnectionFailure
from urllib3.exceptions import HTTPError

log = structlog.get_logger(__name__)


@web.middleware
async def dependency_errors(request: web.Request, handler: HandlerFn) -> web.StreamResponse:
    try:
        return await handler(request)
    except (MinioException, HTTPError) as exc:
        log.warning("s3.unavailable", error=repr(exc))
        raise unavailable("object storage did not answer as expected; retry later") from exc
    except ConnectionFailure as exc:
        log.warning("mongodb.unavailable", error=repr(exc))
        raise unavailable("the blob index is unreachable; retry later") from exc
    except KafkaError as exc:
        log.warning("kafka.unavailable", error=repr(exc))
        raise unavailable("the event log is unreachable; retry later") from exc
