from django.urls import path

from teams.api import views

app_name = "teams-api"
urlpatterns = [
    path("api/v1/teams", views.TeamsApi.as_view(), name="teams"),
    path("api/v1/teams/<slug:slug>", views.TeamDetailApi.as_view(), name="team"),
    path("api/v1/teams/<slug:slug>/members", views.TeamMembersApi.as_view(), name="members"),
    path(
        "api/v1/teams/<slug:slug>/members/<str:username>",
        views.TeamMemberDetailApi.as_view(),
        name="member",
    ),
    path("api/v1/components", views.ComponentsApi.as_view(), name="components"),
    path("api/v1/components/<slug:slug>", views.ComponentDetailApi.as_view(), name="component"),
    path("api/v1/audit-log", views.AuditLogApi.as_view(), name="audit-log"),
]
