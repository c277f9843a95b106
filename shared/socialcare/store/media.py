"""MediaBucket: attachments and over-long message texts under the customer's prefix, and the
inbound events too large for SQS under ``inbound-events/`` (SSE; lifecycle in the template)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, Any

from botocore.exceptions import ClientError

from socialcare.store.codec import error_code

_MISSING = ("403", "404", "NoSuchKey", "NotFound", "AccessDenied")
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys


class MediaStore:
    def __init__(self, bucket: str, client: Any = None, *, connect: Callable[[], Any] | None = None) -> None:
        """``client``: an S3 client; or ``connect``, which makes it on first use: the webhooks and
        the processor hold a MediaStore for the rare claim-checked event, and an S3 client costs
        ~40 ms of cold start (its service model is large)."""
        self.bucket = bucket
        self._client = client
        self._connect = connect

    @property
    def client(self) -> Any:
        if self._client is None and self._connect is not None:
            self._client = self._connect()
        return self._client

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            # Without s3:ListBucket, S3 answers HEAD of a missing key with 403, not 404: either way
            # the caller fetches (keys are deterministic, so a second put is harmless).
            if error_code(exc) in _MISSING:
                return False
            raise
        return True

    def put(self, key: str, body: IO[bytes], content_type: str | None = None) -> None:
        """Stream ``body`` into the bucket (multipart for large media)."""
        extra = {"ContentType": content_type} if content_type else {}
        self.client.upload_fileobj(body, self.bucket, key, ExtraArgs=extra)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.put(key, io.BytesIO(data), content_type)

    def get_bytes(self, key: str) -> bytes | None:
        """The object's bytes; None when it is not there (expired, erased)."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                return None
            raise
        with response["Body"] as body:
            data: bytes = body.read()
        return data

    # ------------------------------------------------------------ message texts (store.bodies)
    def put_text(self, key: str, text: str) -> None:
        self.put_bytes(key, text.encode("utf-8"), "text/plain; charset=utf-8")

    def get_text(self, key: str) -> str | None:
        data = self.get_bytes(key)
        return None if data is None else data.decode("utf-8")

    def delete(self, key: str) -> None:
        """Delete one object (a text an edit replaced); deleting a missing key is not an error."""
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (a message's folder: its text and attachments,
        whichever versions edits left); returns how many. Idempotent."""
        if not prefix.endswith("/"):
            raise ValueError(f"refusing to delete a prefix that is not a folder: {prefix!r}")
        deleted = 0
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            for start in range(0, len(keys), _DELETE_BATCH):
                chunk = keys[start : start + _DELETE_BATCH]
                result = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})
                if result.get("Errors"):
                    raise RuntimeError(f"S3 refused to delete {len(result['Errors'])} object(s) under {prefix}")
                deleted += len(chunk)
        return deleted
