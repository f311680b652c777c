"""structlog configuration: JSON lines off a TTY, request and event ids from contextvars."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import orjson
import structlog

from cairn_shared.settings import Settings


def configure_logging(settings: Settings) -> None:
    """Route structlog and the stdlib ``logging`` of our libraries through one JSON renderer."""
    json_output = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stdout.isatty()
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(serializer=dumps)
        if json_output
        else structlog.dev.ConsoleRenderer()
    )
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # aiokafka, pymongo and aiohttp log through the stdlib: render them the same way.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, logging.INFO))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # we log one line per request
    structlog.contextvars.bind_contextvars(service=settings.service)


def dumps(event: Any, **kw: Any) -> str:
    """A log line's JSON: orjson (a ninth of the stdlib's time, per line of every request and
    event), or the stdlib for what only the stdlib takes (integers beyond 64 bits)."""
    try:
        return orjson.dumps(
            event, default=kw.get("default"), option=orjson.OPT_NON_STR_KEYS
        ).decode()
    except TypeError:
        return json.dumps(event, **kw)
