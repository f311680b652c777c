from __future__ import annotations

import inspect

from aiokafka.record import default_records, memory_records


def test_the_aiokafka_c_extension_is_in_use() -> None:
    """The pure-Python record codec is several times slower; a wheel without the extension
    (or AIOKAFKA_NO_EXTENSIONS) would silently fall back to it."""
    for codec in (
        default_records.DefaultRecordBatch,
        default_records.DefaultRecordBatchBuilder,
        memory_records.MemoryRecords,
    ):
        assert inspect.getfile(codec).endswith(".so"), codec
