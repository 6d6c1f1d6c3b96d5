from django.urls import path, register_converter

from pipelines import views
from teams import views as team_views


class IntegrationWord:
    """`pipelines` or `alert-sources` in a URL."""

    regex = "pipelines|alert-sources"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(IntegrationWord, "integration")

app_name = "settings"
urlpatterns = [
    path("", views.settings_overview, name="overview"),
    path("teams/new", team_views.team_create, name="team-new"),
    path("teams/<slug:slug>/", team_views.team_detail, name="team"),
    path("teams/<slug:slug>/rename", team_views.team_update, name="team-update"),
    path("teams/<slug:slug>/members", team_views.member_add, name="member-add"),
    path("teams/<slug:slug>/members/<int:pk>/role", team_views.member_role, name="member-role"),
    path(
        "teams/<slug:slug>/members/<int:pk>/remove", team_views.member_remove, name="member-remove"
    ),
    path("components/", team_views.component_list, name="components"),
    path("components/new", team_views.component_edit, name="component-new"),
    path("components/<slug:slug>/edit", team_views.component_edit, name="component-edit"),
    path("components/<slug:slug>/delete", team_views.component_delete, name="component-delete"),
    path("audit/", team_views.audit_log, name="audit"),
    path("<integration:kind_word>/new", views.integration_create, name="integration-new"),
    path("<integration:kind_word>/<int:pk>/", views.integration_detail, name="integration"),
    path("<integration:kind_word>/<int:pk>/edit", views.integration_edit, name="integration-edit"),
    path(
        "<integration:kind_word>/<int:pk>/rotate-key",
        views.integration_rotate_key,
        name="integration-rotate-key",
    ),
    path(
        "<integration:kind_word>/<int:pk>/rotate-secret",
        views.integration_rotate_secret,
        name="integration-rotate-secret",
    ),
    path(
        "<integration:kind_word>/<int:pk>/toggle",
        views.integration_toggle,
        name="integration-toggle",
    ),
    path(
        "<integration:kind_word>/<int:pk>/delete",
        views.integration_delete,
        name="integration-delete",
    ),
    path(
        "sns-subscriptions/<int:pk>/confirm",
        views.sns_subscription_confirm,
        name="sns-subscription-confirm",
    ),
]
