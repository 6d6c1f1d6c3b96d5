"""Teams, who is in them, and the service catalog they own."""

from datetime import datetime

from django.conf import settings
from django.db import models

from teams.time_zones import validate_time_zone


class Team(models.Model):
    """A group of people who own components, pipelines and alert sources."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in a team. Admins change the team's settings; members only read them."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("user", "team"), name="uniq_membership_user_team"),
        )

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class Component(models.Model):
    """A service in the catalog. `name` is normalised (see teams.components)."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    owner_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="components"
    )
    # One hop is all correlation follows: "payments-service depends on postgres-main".
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="dependents"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class ComponentAlias(models.Model):
    """Another name producers use for a component (`payments-prod` for `payments-service`).

    Unique across the catalog, so an alias can never mean two components.
    """

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "component aliases"

    def __str__(self) -> str:
        return f"{self.name} → {self.component.name}"


class Profile(models.Model):
    """A user's own settings. Created on first use: a user without a row has every default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    # An IANA name (Europe/Berlin) every page renders times in; blank until the first login
    # with a browser that tells us, or the user's own choice, and UTC meanwhile.
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class ApiToken(models.Model):
    """A personal token for the API (`Authorization: Token <token>`), stored hashed.

    `read` tokens may only read (GET, HEAD, OPTIONS); `write` tokens act as their user does in
    the product. An expired token is refused; a revoked one is deleted (the audit log keeps
    that it existed). `last_used_at` is stamped at most once a minute per token.
    """

    class Scope(models.TextChoices):
        READ = "read", "read"
        WRITE = "write", "write"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.READ)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # null: never expires
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.token_prefix}… ({self.user})"

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class AuditEntry(models.Model):
    """Who created, changed, rotated, disabled or deleted which setting, and when.

    Written by the settings services in the same transaction as the change. Names are copied,
    so the log still reads after the user or the object is gone. Secrets never appear here.
    """

    class Action(models.TextChoices):
        CREATED = "created", "created"
        CHANGED = "changed", "changed"
        ROTATED = "rotated", "rotated the key of"
        DISABLED = "disabled", "disabled"
        ENABLED = "enabled", "enabled"
        DELETED = "deleted", "deleted"
        REVOKED = "revoked", "revoked"

    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=10, choices=Action.choices)
    target_type = models.CharField(max_length=30)  # team, member, component, pipeline, ...
    target_id = models.BigIntegerField(null=True, blank=True)
    target_name = models.CharField(max_length=200)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    details = models.JSONField(default=dict, blank=True)  # {"field": [before, after]}

    class Meta:
        ordering = ("-at", "-id")
        verbose_name_plural = "audit entries"
        indexes = (
            models.Index(fields=("-at", "-id"), name="audit_time_idx"),
            models.Index(fields=("team", "-at"), name="audit_team_time_idx"),
        )

    def __str__(self) -> str:
        return (
            f"{self.actor_name} {self.get_action_display()} {self.target_type} {self.target_name}"
        )
