"""Storage: the blob index and presigned upload and download sessions on S3."""
