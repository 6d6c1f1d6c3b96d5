from django.urls import path

from pipelines import views

app_name = "settings"
urlpatterns = [
    path("", views.settings_overview, name="overview"),
    path(
        "sns-subscriptions/<int:pk>/confirm",
        views.sns_subscription_confirm,
        name="sns-subscription-confirm",
    ),
]
