from typing import ClassVar

from django.contrib import admin

from teams.models import ApiToken, Component, ComponentAlias, Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields: ClassVar = {"slug": ("name",)}
    inlines = (MembershipInline,)


class ComponentAliasInline(admin.TabularInline):
    model = ComponentAlias
    extra = 1


@admin.register(Component)
class ComponentAdmin(admin.ModelAdmin):
    list_display = ("name", "owner_team")
    list_filter = ("owner_team",)
    list_select_related = ("owner_team",)
    search_fields = ("name", "aliases__name")
    filter_horizontal = ("depends_on",)
    inlines = (ComponentAliasInline,)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "token_prefix",
        "user",
        "name",
        "scope",
        "created_at",
        "expires_at",
        "last_used_at",
    )
    list_select_related = ("user",)
    list_filter = ("scope",)
    readonly_fields = ("token_hash", "token_prefix", "created_at", "last_used_at")
