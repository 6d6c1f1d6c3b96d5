"""Signature and token checks for producers that sign, and the one check of an integration's
authentication mode (verify_request). All comparisons are constant-time."""

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from common.times import parse_timestamp
from pipelines.exceptions import BadSignature, SignatureRequired, StaleTimestamp
from pipelines.models import AlertSource, AuthMode, DeploymentPipeline, Integration

# Producers that sign the exact body with the pipeline's secret: (header, digest, prefix).
HEX_HMAC_SIGNATURES = {
    DeploymentPipeline.Kind.FLUX: ("X-Signature", "sha256", "sha256="),
    DeploymentPipeline.Kind.TERRAFORM_CLOUD: ("X-TFE-Notification-Signature", "sha512", ""),
    DeploymentPipeline.Kind.LAUNCHDARKLY: ("X-LD-Signature", "sha256", ""),
    DeploymentPipeline.Kind.FLAGSMITH: ("X-Flagsmith-Signature", "sha256", ""),
}
# The timestamped HMAC of the signed webhook alert source, also how a generic pipeline signs.
TIMESTAMP_HEADER = "x-amzn-event-timestamp"
SIGNATURE_HEADER = "x-amzn-event-signature"
# Pipelines have no tolerance setting; alert sources have timestamp_tolerance_seconds.
PIPELINE_TIMESTAMP_TOLERANCE_SECONDS = 300


def verify_request(
    *, integration: Integration, headers: Mapping[str, str], body: bytes, now: datetime
) -> str:
    """Enforce the integration's authentication mode on one request, whatever the endpoint and
    wherever its key was (path, Authorization header, body).

    `key`: the key let it in, nothing more to check. `signature`: the request must carry its
    kind's signature of the exact body, made with the integration's secret. Raises
    SignatureRequired when it carries none, BadSignature or StaleTimestamp when it is wrong or
    too old. Returns the timestamped signature for the caller to remember against replays; ""
    where the producer's own delivery id already makes a replay a duplicate (GitHub, GitLab,
    the hex HMACs).
    """
    if integration.auth_mode != AuthMode.SIGNATURE:
        return ""
    what = integration._meta.verbose_name
    if not integration.secret:
        raise BadSignature(
            f"This {what} requires signed requests but has no signing secret; an admin can "
            "rotate it in Settings."
        )
    kind = integration.kind
    if isinstance(integration, DeploymentPipeline):
        if kind == DeploymentPipeline.Kind.GITHUB:
            verify_hub_signature(
                secret=integration.secret, body=body, header=headers.get("X-Hub-Signature-256")
            )
            return ""
        if kind == DeploymentPipeline.Kind.GITLAB:
            verify_shared_token(
                secret=integration.secret,
                header_name="X-Gitlab-Token",
                value=headers.get("X-Gitlab-Token"),
            )
            return ""
        if kind in HEX_HMAC_SIGNATURES:
            header, digest, prefix = HEX_HMAC_SIGNATURES[kind]
            verify_hex_hmac(
                secret=integration.secret,
                body=body,
                header_name=header,
                header=headers.get(header),
                digest=digest,
                prefix=prefix,
            )
            return ""
    tolerance = (
        integration.timestamp_tolerance_seconds
        if isinstance(integration, AlertSource)
        else PIPELINE_TIMESTAMP_TOLERANCE_SECONDS
    )
    verify_timestamped_hmac(
        secret=integration.secret,
        body=body,
        timestamp=headers.get(TIMESTAMP_HEADER),
        signature=headers.get(SIGNATURE_HEADER),
        tolerance_seconds=tolerance,
        now=now,
        what=what,
    )
    return headers[SIGNATURE_HEADER].strip()


def verify_hub_signature(*, secret: str, body: bytes, header: str | None) -> None:
    """GitHub's X-Hub-Signature-256: "sha256=" + HMAC-SHA256(secret, exact body bytes)."""
    if not header:
        raise SignatureRequired("Missing X-Hub-Signature-256 header: a signature is required.")
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
        raise SignatureRequired(f"Missing {header_name} header: a signature is required.")
    expected = prefix + hmac.new(secret.encode(), body, digest).hexdigest()
    given = header.strip().lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected.encode(), given):
        raise BadSignature(f"{header_name} does not match the body and the pipeline's secret.")


def verify_shared_token(*, secret: str, header_name: str, value: str | None) -> None:
    """A secret sent as-is in a header (GitLab's X-Gitlab-Token)."""
    if not value:
        raise SignatureRequired(f"Missing {header_name} header: the secret token is required.")
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
    what: str = "alert source",
) -> None:
    """AWS DevOps Agent-style signed webhooks: base64(HMAC-SHA256(secret, "<timestamp>:<body>")).

    A timestamp further than the tolerance from our clock is refused, so a captured request
    cannot be replayed later (replays inside the window are caught by SeenSignature).
    """
    if not timestamp or not signature:
        raise SignatureRequired(
            f"This {what} requires signed requests: send {TIMESTAMP_HEADER} and "
            f"{SIGNATURE_HEADER}; the key alone is not enough."
        )
    signed_at = parse_timestamp(timestamp)
    if signed_at is None:
        raise BadSignature(f"{TIMESTAMP_HEADER} is not a time.")
    if abs((now - signed_at).total_seconds()) > tolerance_seconds:
        raise StaleTimestamp(
            f"{TIMESTAMP_HEADER} is more than {tolerance_seconds} s from our clock."
        )
    digest = hmac.new(secret.encode(), timestamp.encode() + b":" + body, hashlib.sha256).digest()
    expected = base64.b64encode(digest)
    if not hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace")):
        raise BadSignature(f"{SIGNATURE_HEADER} does not match the body and the secret.")
