"""Signature and token checks for producers that sign. All comparisons are constant-time."""

import base64
import hashlib
import hmac
from datetime import datetime

from common.times import parse_timestamp
from pipelines.exceptions import BadSignature, StaleTimestamp


def verify_hub_signature(*, secret: str, body: bytes, header: str | None) -> None:
    """GitHub's X-Hub-Signature-256: "sha256=" + HMAC-SHA256(secret, exact body bytes)."""
    if not header:
        raise BadSignature("Missing X-Hub-Signature-256 header.")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace")):
        raise BadSignature("X-Hub-Signature-256 does not match the body and the pipeline's secret.")


def verify_hex_hmac(
    *, secret: str, body: bytes, header_name: str, header: str | None, digest: str, prefix: str = ""
) -> None:
    """A hex HMAC of the exact body in a header, optionally after a prefix such as "sha256="
    (Flux's X-Signature, HCP Terraform's X-TFE-Notification-Signature with SHA-512,
    LaunchDarkly's X-LD-Signature, Flagsmith's X-Flagsmith-Signature)."""
    if not header:
        raise BadSignature(f"Missing {header_name} header.")
    expected = prefix + hmac.new(secret.encode(), body, digest).hexdigest()
    given = header.strip().lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected.encode(), given):
        raise BadSignature(f"{header_name} does not match the body and the pipeline's secret.")


def verify_shared_token(*, secret: str, header_name: str, value: str | None) -> None:
    """A secret sent as-is in a header (GitLab's X-Gitlab-Token)."""
    if not value:
        raise BadSignature(f"Missing {header_name} header.")
    if not hmac.compare_digest(secret.encode(), value.encode("utf-8", "replace")):
        raise BadSignature(f"{header_name} does not match the pipeline's secret.")


def verify_timestamped_hmac(
    *,
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    tolerance_seconds: int,
    now: datetime,
) -> None:
    """AWS DevOps Agent-style signed webhooks: base64(HMAC-SHA256(secret, "<timestamp>:<body>")).

    A timestamp further than the tolerance from our clock is refused, so a captured request
    cannot be replayed later (replays inside the window are caught by SeenSignature).
    """
    if not timestamp or not signature:
        raise BadSignature("Missing x-amzn-event-timestamp or x-amzn-event-signature header.")
    signed_at = parse_timestamp(timestamp)
    if signed_at is None:
        raise BadSignature("x-amzn-event-timestamp is not a time.")
    if abs((now - signed_at).total_seconds()) > tolerance_seconds:
        raise StaleTimestamp(
            f"x-amzn-event-timestamp is more than {tolerance_seconds} s from our clock."
        )
    digest = hmac.new(secret.encode(), timestamp.encode() + b":" + body, hashlib.sha256).digest()
    expected = base64.b64encode(digest)
    if not hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace")):
        raise BadSignature("x-amzn-event-signature does not match the body and the secret.")
