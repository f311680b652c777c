"""Back-pressure for history batches: a bound on what one process holds at once.

A batch holds memory from the moment its body is read until Kafka acknowledges it. When
Kafka or the process falls behind, batches would pile up without limit; instead, past
``max_requests`` in flight or ``max_bytes`` held, a batch is refused at once (HTTP 429 with
Retry-After) and the client's sender keeps it and retries later.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class OverloadedError(Exception):
    pass


@dataclass
class Admission:
    max_requests: int
    max_bytes: int
    requests: int = 0
    bytes: int = 0
    refused: int = 0

    @contextmanager
    def admit(self, size: int) -> Iterator[Admitted]:
        """Hold one request and ``size`` bytes until the block ends; OverloadedError if full."""
        if self.requests >= self.max_requests or self.bytes + size > self.max_bytes:
            self.refused += 1
            raise OverloadedError
        held = Admitted(self, size)
        self.requests += 1
        self.bytes += size
        try:
            yield held
        finally:
            self.requests -= 1
            self.bytes -= held.size


@dataclass
class Admitted:
    admission: Admission
    size: int

    def grow(self, more: int) -> None:
        """Hold ``more`` bytes too (the decompressed text); OverloadedError if that is too much."""
        if self.admission.bytes + more > self.admission.max_bytes:
            self.admission.refused += 1
            raise OverloadedError
        self.admission.bytes += more
        self.size += more
