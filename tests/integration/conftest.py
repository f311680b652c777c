"""Integration tests run against the real servers of the local stack: Kafka, a MongoDB
wire-protocol server and S3. Each test gets its own topic prefix and database names."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cairn_shared.kafka.admin import delete_prefixed_topics, ensure_topics
from cairn_shared.mongo import Document, create_client
from cairn_shared.settings import Settings
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from tests.conftest import stack_env


@pytest.fixture
async def settings(unique: str) -> AsyncIterator[Settings]:
    settings = Settings(
        service=f"it{unique}",
        kafka_bootstrap=stack_env("CAIRN_KAFKA_BOOTSTRAP"),
        kafka_topic_prefix=f"it{unique}.",
        kafka_partitions=3,
        mongo_url=SecretStr(stack_env("CAIRN_MONGO_URL")),
        s3_endpoint=stack_env("CAIRN_S3_ENDPOINT"),
        s3_access_key=SecretStr(stack_env("CAIRN_S3_ACCESS_KEY")),
        s3_secret_key=SecretStr(stack_env("CAIRN_S3_SECRET_KEY")),
        s3_bucket=stack_env("CAIRN_S3_BUCKET"),
    )
    yield settings
    await delete_prefixed_topics(settings)  # the test's services made them on start


@pytest.fixture
async def topics(settings: Settings) -> Settings:
    await ensure_topics(settings)
    return settings


@pytest.fixture
async def mongo(settings: Settings) -> AsyncIterator[AsyncMongoClient[Document]]:
    client = create_client(settings)
    yield client
    await client.drop_database(settings.database_name)
    await client.close()
