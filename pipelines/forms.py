"""Settings forms for pipelines and alert sources. Shape only: the services own the rules."""

from typing import ClassVar

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.validators import MaxValueValidator

from pipelines.models import AlertSource, DeploymentPipeline
from teams.permissions import administered_teams


class ListField(forms.CharField):
    """A list typed as comma-separated words ("production, staging")."""

    def prepare_value(self, value: object) -> object:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: object) -> list[str]:
        text = super().to_python(value) or ""
        return [item.strip() for item in text.split(",") if item.strip()]


class PipelineForm(forms.ModelForm):
    environments = ListField(required=False, help_text="Record only these (empty: all).")
    branches = ListField(required=False, help_text="Record pushes and runs of these only.")
    event_types = ListField(
        required=False, help_text="Producer event types to record (e.g. deployment_status)."
    )

    class Meta:
        model = DeploymentPipeline
        fields = ("name", "kind", "team", "environments", "branches", "event_types")

    def __init__(self, *args: object, user: AbstractBaseUser, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = administered_teams(user)
        self.fields["team"].required = not user.is_staff
        self.fields["team"].empty_label = "No team (account-wide)" if user.is_staff else None


class AlertSourceForm(PipelineForm):
    default_components = ListField(
        required=False, help_text="When the alert names none (comma-separated)."
    )

    class Meta:
        model = AlertSource
        fields = (
            "name",
            "kind",
            "team",
            "default_severity",
            "default_components",
            "insufficient_data",
            "window_minutes",
            "skew_minutes",
            "quiet_period_minutes",
            "reopen_window_minutes",
            "timestamp_tolerance_seconds",
            "auto_confirm_subscriptions",
            "environments",
            "event_types",
        )
        labels: ClassVar = {
            "window_minutes": "Correlation window (minutes before the alert)",
            "skew_minutes": "Clock skew allowed (minutes after)",
            "quiet_period_minutes": "Auto-resolve after this many quiet minutes",
            "reopen_window_minutes": "Reopen instead of a new incident within (minutes)",
            "timestamp_tolerance_seconds": "Signed timestamp tolerance (seconds)",
            "insufficient_data": "CloudWatch INSUFFICIENT_DATA",
        }

    def __init__(self, *args: object, user: AbstractBaseUser, **kwargs: object) -> None:
        super().__init__(*args, user=user, **kwargs)
        del self.fields["branches"]
        # Correlation looks at most a day around an incident (incidents.correlation).
        for name in ("window_minutes", "skew_minutes", "reopen_window_minutes"):
            self.fields[name].validators.append(MaxValueValidator(24 * 60))
            self.fields[name].widget.attrs["max"] = 24 * 60
