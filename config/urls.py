from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from teams import views as teams_views

urlpatterns = [
    path("", include("changes.urls")),
    path("", include("changes.api.urls")),
    path("", include("incidents.api.urls")),
    path("", include("teams.api.urls")),
    path("", include("pipelines.api.urls")),
    path("incidents/", include("incidents.urls")),
    path("settings/", include("pipelines.urls")),
    path("login/", teams_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", teams_views.profile, name="profile"),
    path("profile/tokens/", teams_views.api_token_create, name="api-token-create"),
    path("profile/tokens/<int:pk>/revoke/", teams_views.api_token_revoke, name="api-token-revoke"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        # The split view serves its start-up script as a file: no inline script for the CSP.
        # Swagger UI styles elements inline, so this page alone allows inline styles.
        csp_update({"style-src": [UNSAFE_INLINE]})(
            login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))
        ),
        name="api-docs",
    ),
]
