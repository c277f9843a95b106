"""MediaBucket: attachments stored under the customer's prefix (SSE, lifecycle in the template)."""

from __future__ import annotations

from typing import IO, Any

from botocore.exceptions import ClientError

from socialcare.store.codec import error_code


class MediaStore:
    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self.client = client

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            # Without s3:ListBucket, S3 answers HEAD of a missing key with 403, not 404: either way
            # the caller fetches (keys are deterministic, so a second put is harmless).
            if error_code(exc) in ("403", "404", "NoSuchKey", "NotFound", "AccessDenied"):
                return False
            raise
        return True

    def put(self, key: str, body: IO[bytes], content_type: str | None = None) -> None:
        """Stream ``body`` into the bucket (multipart for large media)."""
        extra = {"ContentType": content_type} if content_type else {}
        self.client.upload_fileobj(body, self.bucket, key, ExtraArgs=extra)
