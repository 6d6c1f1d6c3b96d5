from django.urls import path

from pipelines import views

app_name = "settings"
urlpatterns = [
    path("", views.settings_overview, name="overview"),
]
