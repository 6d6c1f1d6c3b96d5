"""Shapes of the teams, members, components and audit-log API. Shape only: teams.services
owns the rules (a taken slug or name, an alias of another component)."""

from typing import Any, ClassVar

from rest_framework import serializers

from teams.components import normalise_component_name
from teams.models import AuditEntry, Component, Membership, Team


class TeamSlugField(serializers.SlugRelatedField):
    """A team by its slug; null for none. An unknown slug is a 400 naming the field."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", Team.objects.all())
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        super().__init__(slug_field="slug", **kwargs)


class ComponentNameField(serializers.SlugRelatedField):
    """A catalog component by its name, normalised as producers' names are."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", Component.objects.all())
        super().__init__(slug_field="name", **kwargs)

    def to_internal_value(self, data: Any) -> Component:
        if isinstance(data, str):
            data = normalise_component_name(data)
        return super().to_internal_value(data)


class TeamSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Team
        fields = ("slug", "name", "member_count", "created_at")
        read_only_fields = ("member_count", "created_at")
        # A taken slug is the service's call (SettingInvalid, 400 naming `slug`).
        extra_kwargs: ClassVar = {"slug": {"validators": []}}


class MemberSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.get_username", read_only=True)

    class Meta:
        model = Membership
        fields = ("user", "role", "created_at")
        read_only_fields = fields


class MemberAddSerializer(serializers.Serializer):
    """Add someone to the team, or change their role if they are in it."""

    user = serializers.CharField(max_length=254, help_text="username or email")
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class AliasNamesField(serializers.ListField):
    """Aliases in, alias names out (from the prefetched aliases)."""

    child = serializers.CharField(max_length=200)

    def to_representation(self, aliases: Any) -> list[str]:
        return [alias.name for alias in aliases.all()]


class ComponentSerializer(serializers.ModelSerializer):
    owner_team = TeamSlugField(help_text="team slug, or null")
    aliases = AliasNamesField(required=False, help_text="other names producers use for it")
    depends_on = ComponentNameField(
        many=True, required=False, help_text="names of the components it needs (one hop)"
    )

    class Meta:
        model = Component
        fields = ("slug", "name", "owner_team", "aliases", "depends_on", "created_at")
        read_only_fields = ("slug", "created_at")
        # A taken name is the service's call (SettingInvalid, 400 naming `name`).
        extra_kwargs: ClassVar = {"name": {"validators": []}}


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name", read_only=True)
    # A plain string, not an enum: `action` already names another choice set in the schema.
    action = serializers.CharField(
        read_only=True, help_text="created, changed, rotated, disabled, enabled or deleted"
    )
    team = serializers.CharField(source="team.slug", default=None, read_only=True)

    class Meta:
        model = AuditEntry
        fields = (
            "id",
            "at",
            "actor",
            "action",
            "target_type",
            "target_id",
            "target_name",
            "team",
            "details",
        )
        read_only_fields = fields


class AuditLogPageSerializer(serializers.Serializer):
    """One page of the audit log (common.pagination.keyset_api_page)."""

    results = AuditEntrySerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="the next (older) page, or null")
    next_cursor = serializers.CharField(allow_null=True)
