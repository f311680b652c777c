"""Request bodies, validated at the edge: a bad digest, size or part list is a 400."""

from __future__ import annotations

import itertools
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from cairn_storage.domain.blobs import (
    MAX_BLOBS_PER_CALL,
    MAX_DIGESTS_PER_CHECK,
    MAX_OBJECT_BYTES,
    check_digest,
)
from cairn_storage.domain.uploads import MAX_PARTS

Digest = Annotated[str, AfterValidator(check_digest)]
# strict: a size or part number must be a JSON integer, not "12" or 12.0 or true.
_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class BlobSpec(BaseModel):
    model_config = _STRICT

    digest: Digest
    size: int = Field(ge=0, le=MAX_OBJECT_BYTES)


class UploadSpec(BlobSpec):
    # The client reads this blob only through storage's downloads (an artifact file, not a
    # manifest), so it may be stored inside a pack.
    packable: bool = False


class UploadsRequest(BaseModel):
    model_config = _STRICT

    blobs: list[UploadSpec] = Field(max_length=MAX_BLOBS_PER_CALL)


class PartSpec(BaseModel):
    model_config = _STRICT

    part_number: int = Field(ge=1, le=MAX_PARTS)
    etag: str = Field(min_length=1, max_length=256)


class CompletedSpec(BlobSpec):
    upload_id: str | None = Field(default=None, min_length=1, max_length=1024)
    parts: list[PartSpec] | None = Field(default=None, min_length=1, max_length=MAX_PARTS)

    @model_validator(mode="after")
    def _multipart_is_whole(self) -> Self:
        if (self.upload_id is None) != (self.parts is None):
            raise ValueError(
                "a multipart blob needs both upload_id and parts; a single PUT neither"
            )
        numbers = [p.part_number for p in self.parts or ()]
        if any(a >= b for a, b in itertools.pairwise(numbers)):
            raise ValueError("parts must be listed by part_number, ascending, each once")
        return self


class PackSpec(BaseModel):
    """A pack as storage opened it: its id and its members, in order."""

    model_config = _STRICT

    pack_id: Digest
    members: list[BlobSpec] = Field(min_length=1, max_length=MAX_BLOBS_PER_CALL)


class CompleteRequest(BaseModel):
    model_config = _STRICT

    blobs: list[CompletedSpec] = Field(max_length=MAX_BLOBS_PER_CALL)
    packs: list[PackSpec] = Field(default_factory=list, max_length=MAX_BLOBS_PER_CALL)

    @model_validator(mode="after")
    def _not_too_many(self) -> Self:
        if len(self.blobs) + sum(len(p.members) for p in self.packs) > MAX_BLOBS_PER_CALL:
            raise ValueError(f"complete at most {MAX_BLOBS_PER_CALL} blobs per call")
        return self


class CheckRequest(BaseModel):
    model_config = _STRICT

    digests: list[Digest] = Field(max_length=MAX_DIGESTS_PER_CHECK)


class DownloadsRequest(BaseModel):
    model_config = _STRICT

    digests: list[Digest] = Field(max_length=MAX_BLOBS_PER_CALL)
