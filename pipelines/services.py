"""Writes for integrations: create them, rotate their keys, confirm SNS subscriptions."""

import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from common.tokens import generate_token, hash_token, visible_prefix
from pipelines import tasks
from pipelines.exceptions import ReplayedSignature, SubscriptionNotConfirmed
from pipelines.kinds import auth_mode_problem, default_auth_mode, kind_info, signs
from pipelines.models import (
    MAX_TIMESTAMP_TOLERANCE_SECONDS,
    AlertSource,
    DeploymentPipeline,
    Integration,
    SeenSignature,
    SnsSubscription,
)
from pipelines.sns import is_sns_url
from teams import audit
from teams.models import AuditEntry, Team
from teams.services import Actor, SettingInvalid, rewrite_change_teams_later

IntegrationT = TypeVar("IntegrationT", DeploymentPipeline, AlertSource)

KEY_PREFIXES = {DeploymentPipeline: "wcp", AlertSource: "wca"}
# How long a remembered signature is kept at least (forget_stale_signatures).
SIGNATURES_KEPT = timedelta(seconds=2 * MAX_TIMESTAMP_TOLERANCE_SECONDS)


def new_secret() -> str:
    return generate_token("wcs")


@transaction.atomic
def create_integration(
    *,
    model: type[IntegrationT],
    name: str,
    kind: str,
    team: Team | None = None,
    secret: str | None = None,
    key: str | None = None,
    by: Actor = "system",
    **settings: Any,
) -> tuple[IntegrationT, str]:
    """Create a pipeline or alert source; return it with its key, which is never stored in clear.

    `key` is for installations that keep keys in a secret store; otherwise one is generated.
    `auth_mode` (in settings) defaults to the kind's: a signature where its producer signs.
    Raises SettingInvalid for a name taken or a mode the kind does not allow.
    """
    _check_name_free(model, name)
    settings["auth_mode"] = settings.get("auth_mode") or default_auth_mode(model, kind)
    _check_auth_mode(model, kind, settings["auth_mode"])
    key = key or generate_token(KEY_PREFIXES[model])
    integration = model.objects.create(
        name=name,
        kind=kind,
        team=team,
        secret=secret if secret is not None else new_secret(),
        key_hash=hash_token(key),
        key_prefix=visible_prefix(key),
        **settings,
    )
    _audit(by, AuditEntry.Action.CREATED, integration, {"kind": kind, **settings})
    return integration, key


@transaction.atomic
def update_integration(*, by: Actor, integration: Integration, **fields: Any) -> Integration:
    """Change an integration's settings (name, team, filters, authentication mode, correlation
    settings). A new kind that does not allow the current mode gets its default mode.

    Raises SettingInvalid for a name taken or a mode the kind does not allow.
    """
    forbidden = set(fields) & {"key_hash", "key_prefix", "secret", "enabled"}
    if forbidden:
        raise TypeError(f"use rotate_key, rotate_secret or set_enabled for {sorted(forbidden)}")
    if "name" in fields:
        _check_name_free(type(integration), fields["name"], excluding=integration.pk)
    model, kind = type(integration), fields.get("kind", integration.kind)
    if "auth_mode" in fields:
        _check_auth_mode(model, kind, fields["auth_mode"])
    elif auth_mode_problem(model, kind, integration.auth_mode):
        fields["auth_mode"] = default_auth_mode(model, kind)
    before = audit.snapshot(integration, fields)
    team_id = integration.team_id
    for name, value in fields.items():
        setattr(integration, name, value)
    integration.save()
    if isinstance(integration, DeploymentPipeline) and integration.team_id != team_id:
        rewrite_change_teams_later(pipeline_id=integration.pk)  # its changes' team
    details = audit.changes(before, fields)
    if details:
        _audit(by, AuditEntry.Action.CHANGED, integration, details)
    return integration


@transaction.atomic
def rotate_key(*, integration: Integration, key: str | None = None, by: Actor = "system") -> str:
    """Give the integration a new key; the old one stops working at once."""
    key = key or generate_token(KEY_PREFIXES[type(integration)])
    integration.key_hash = hash_token(key)
    integration.key_prefix = visible_prefix(key)
    integration.save(update_fields=("key_hash", "key_prefix", "updated_at"))
    _audit(by, AuditEntry.Action.ROTATED, integration)
    return key


@transaction.atomic
def rotate_secret(*, integration: Integration, by: Actor) -> str:
    """A new signing secret, shown once; producers must be given it before they sign again.

    Raises SettingInvalid for an integration authenticated by its key alone: nothing would ever
    check that secret.
    """
    if not signs(integration):
        info = kind_info(type(integration), integration.kind)
        if info is not None and info.signs:
            raise SettingInvalid(
                f"{integration.name} is authenticated by its key alone: require a signature in "
                "its settings first, then rotate the signing secret."
            )
        raise SettingInvalid(
            f"{integration.get_kind_display()} does not sign its requests: there is no signing "
            "secret to rotate."
        )
    integration.secret = new_secret()
    integration.save(update_fields=("secret", "updated_at"))
    _audit(by, AuditEntry.Action.ROTATED, integration, {"what": "signing secret"})
    return integration.secret


@transaction.atomic
def set_enabled(*, integration: Integration, enabled: bool, by: Actor) -> Integration:
    if integration.enabled != enabled:
        integration.enabled = enabled
        integration.save(update_fields=("enabled", "updated_at"))
        action = AuditEntry.Action.ENABLED if enabled else AuditEntry.Action.DISABLED
        _audit(by, action, integration)
    return integration


@transaction.atomic
def delete_integration(*, integration: Integration, by: Actor) -> None:
    """Delete it; the changes and incidents it brought in stay, without it."""
    _audit(by, AuditEntry.Action.DELETED, integration)
    is_pipeline = isinstance(integration, DeploymentPipeline)
    integration.delete()
    if is_pipeline:
        rewrite_change_teams_later()  # its changes are manual ones now: their owners'


def _check_name_free(model: type[Integration], name: str, excluding: int | None = None) -> None:
    if model.objects.filter(name=name).exclude(pk=excluding).exists():
        raise SettingInvalid(f"{name!r} is taken.", fields={"name": ["Another one has this name."]})


def _check_auth_mode(model: type[Integration], kind: str, mode: str) -> None:
    problem = auth_mode_problem(model, kind, mode)
    if problem:
        raise SettingInvalid(problem, fields={"auth_mode": [problem]})


def remember_signature(
    *, integration: Integration, signature: str, seen_at: datetime
) -> SeenSignature:
    """Remember an accepted timestamped signature. Raises ReplayedSignature when it was seen
    before: the unique constraint decides, so two copies racing in are told apart too."""
    owner = "pipeline" if isinstance(integration, DeploymentPipeline) else "alert_source"
    try:
        with transaction.atomic():
            return SeenSignature.objects.create(
                signature=signature[:200], seen_at=seen_at, **{owner: integration}
            )
    except IntegrityError:
        raise ReplayedSignature() from None


def forget_stale_signatures(*, now: datetime) -> int:
    """Delete the remembered signatures that no replay could use any more; returns how many.

    A signed time may lie up to the tolerance on either side of when the request was seen, so a
    row is kept twice its source's tolerance, and at least SIGNATURES_KEPT: twice the largest
    tolerance allowed, which also covers a tolerance raised after the signature was seen. Only
    sources set before that cap keep theirs longer: a query each, and there are few.
    """
    longer = dict(
        AlertSource.objects.filter(
            timestamp_tolerance_seconds__gt=SIGNATURES_KEPT.total_seconds() / 2
        ).values_list("pk", "timestamp_tolerance_seconds")
    )
    deleted = (
        SeenSignature.objects.filter(seen_at__lt=now - SIGNATURES_KEPT)
        .exclude(alert_source__in=list(longer))
        .delete()[0]
    )
    for source_id, tolerance in longer.items():
        kept = 2 * timedelta(seconds=tolerance)
        deleted += SeenSignature.objects.filter(
            alert_source=source_id, seen_at__lt=now - kept
        ).delete()[0]
    return deleted


@contextmanager
def signature_claimed(
    *, integration: Integration, signature: str, seen_at: datetime
) -> Iterator[None]:
    """Hold a signed request's signature while the request is processed, for writes that own a
    durable transaction of their own (changes.services): the same signature again meanwhile or
    later is a replay (ReplayedSignature). A request that fails lets its signature go, so the
    producer's retry of it is not taken for a replay. No signature: nothing to hold."""
    if not signature:
        yield
        return
    seen = remember_signature(integration=integration, signature=signature, seen_at=seen_at)
    try:
        yield
    except BaseException:
        with suppress(DatabaseError):  # the database went away: the signature stays spent
            seen.delete()
        raise


def _audit(by: Actor, action: str, integration: Integration, details: dict | None = None) -> None:
    audit.record(
        by=by,
        action=action,
        target=integration,
        target_type=_type_name(integration),
        team=integration.team,
        details=details,
    )


def _type_name(integration: Integration) -> str:
    return "pipeline" if isinstance(integration, DeploymentPipeline) else "alert source"


def record_sns_subscription(
    *, source: AlertSource, message: Mapping[str, Any], received_at: datetime
) -> SnsSubscription:
    """Keep a (verified) SubscriptionConfirmation for an admin to confirm. Fetches nothing."""
    subscription, _ = SnsSubscription.objects.update_or_create(
        alert_source=source,
        topic_arn=str(message.get("TopicArn", ""))[:300],
        defaults={
            "subscribe_url": str(message.get("SubscribeURL", ""))[:2000],
            "message_id": str(message.get("MessageId", ""))[:100],
            "received_at": received_at,
            "confirmed_at": None,
            "confirmed_by": "",
        },
    )
    if source.auto_confirm_subscriptions:
        transaction.on_commit(
            lambda: tasks.confirm_sns_subscription.delay(subscription.pk, "auto-confirm"),
            robust=True,
        )
    return subscription


def confirm_sns_subscription(*, subscription: SnsSubscription, by: str) -> SnsSubscription:
    """Visit the SubscribeURL, which must be an SNS endpoint: never an address of our choosing.

    Network I/O: call it outside any transaction. Raises SubscriptionNotConfirmed.
    """
    if not is_sns_url(subscription.subscribe_url):
        raise SubscriptionNotConfirmed("The SubscribeURL is not an SNS endpoint; not visited.")
    try:
        # An https URL on sns.<region>.amazonaws.com only (checked above).
        with urllib.request.urlopen(subscription.subscribe_url, timeout=10) as response:  # noqa: S310
            response.read(64 * 1024)
    except OSError as error:
        raise SubscriptionNotConfirmed(f"SNS did not answer: {error}") from None
    with transaction.atomic():
        subscription.confirmed_at = timezone.now()
        subscription.confirmed_by = by[:150]
        subscription.save(update_fields=("confirmed_at", "confirmed_by"))
        source = subscription.alert_source
        _audit(
            by,
            AuditEntry.Action.CHANGED,
            source,
            {"sns_subscription": ["pending", f"confirmed {subscription.topic_arn}"]},
        )
    return subscription
