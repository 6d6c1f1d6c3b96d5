from django.urls import path

from pipelines.api import views

app_name = "pipelines-api"
urlpatterns = [
    path("api/v1/pipelines", views.PipelinesApi.as_view(), name="pipelines"),
    path("api/v1/pipelines/<int:pk>", views.PipelineDetailApi.as_view(), name="pipeline"),
    path(
        "api/v1/pipelines/<int:pk>/rotate-key",
        views.PipelineRotateKeyApi.as_view(),
        name="pipeline-rotate-key",
    ),
    path(
        "api/v1/pipelines/<int:pk>/rotate-secret",
        views.PipelineRotateSecretApi.as_view(),
        name="pipeline-rotate-secret",
    ),
    path(
        "api/v1/pipelines/<int:pk>/deliveries",
        views.PipelineDeliveriesApi.as_view(),
        name="pipeline-deliveries",
    ),
    path("api/v1/alert-sources", views.AlertSourcesApi.as_view(), name="alert-sources"),
    path(
        "api/v1/alert-sources/<int:pk>", views.AlertSourceDetailApi.as_view(), name="alert-source"
    ),
    path(
        "api/v1/alert-sources/<int:pk>/rotate-key",
        views.AlertSourceRotateKeyApi.as_view(),
        name="alert-source-rotate-key",
    ),
    path(
        "api/v1/alert-sources/<int:pk>/rotate-secret",
        views.AlertSourceRotateSecretApi.as_view(),
        name="alert-source-rotate-secret",
    ),
    path(
        "api/v1/alert-sources/<int:pk>/deliveries",
        views.AlertSourceDeliveriesApi.as_view(),
        name="alert-source-deliveries",
    ),
    path(
        "api/v1/alert-sources/<int:pk>/sns-subscriptions",
        views.AlertSourceSnsSubscriptionsApi.as_view(),
        name="alert-source-sns-subscriptions",
    ),
    path(
        "api/v1/alert-sources/<int:pk>/sns-subscriptions/<int:subscription_pk>/confirm",
        views.AlertSourceSnsSubscriptionConfirmApi.as_view(),
        name="alert-source-sns-subscription-confirm",
    ),
]
