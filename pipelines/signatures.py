"""Signature and token checks for producers that sign. All comparisons are constant-time."""

import hashlib
import hmac

from pipelines.exceptions import BadSignature


def verify_hub_signature(*, secret: str, body: bytes, header: str | None) -> None:
    """GitHub's X-Hub-Signature-256: "sha256=" + HMAC-SHA256(secret, exact body bytes)."""
    if not header:
        raise BadSignature("Missing X-Hub-Signature-256 header.")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace")):
        raise BadSignature("X-Hub-Signature-256 does not match the body and the pipeline's secret.")


def verify_shared_token(*, secret: str, header_name: str, value: str | None) -> None:
    """A secret sent as-is in a header (GitLab's X-Gitlab-Token)."""
    if not value:
        raise BadSignature(f"Missing {header_name} header.")
    if not hmac.compare_digest(secret.encode(), value.encode("utf-8", "replace")):
        raise BadSignature(f"{header_name} does not match the pipeline's secret.")
