"""Settings forms for pipelines and alert sources. Shape only: the services own the rules."""

from typing import Any, ClassVar

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.validators import MaxValueValidator

from pipelines.kinds import PIPELINE_KINDS, KindInfo, grouped_kinds
from pipelines.models import AlertSource, DeploymentPipeline
from teams.permissions import administered_teams


class ListField(forms.CharField):
    """A list typed as comma-separated words ("production, staging")."""

    def prepare_value(self, value: object) -> object:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: object) -> list[str]:
        text = super().to_python(value) or ""
        return [item.strip() for item in text.split(",") if item.strip()]


class KindSelect(forms.Select):
    """The pipeline kind <select>: <optgroup>s by what the kinds are (pipelines.kinds), each
    <option> titled with its one-line description."""

    def create_option(
        self,
        name: str,
        value: Any,
        label: Any,
        selected: bool,
        index: int,
        subindex: int | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        info = PIPELINE_KINDS.get(str(value))
        if info is not None:
            option["attrs"]["title"] = info.description
        return option


class PipelineForm(forms.ModelForm):
    environments = ListField(required=False, help_text="Record only these (empty: all).")
    branches = ListField(required=False, help_text="Record pushes and runs of these only.")
    event_types = ListField(
        required=False, help_text="Producer event types to record (e.g. deployment_status)."
    )

    # Shown before the fields that depend on the kind (PipelineForm.kind_fields), and kept as
    # they are when it changes.
    LEADING_FIELDS = ("name", "team", "kind")

    class Meta:
        model = DeploymentPipeline
        fields = ("name", "team", "kind", "environments", "branches", "event_types")

    def __init__(self, *args: object, user: AbstractBaseUser, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = administered_teams(user)
        self.fields["team"].required = not user.is_staff
        self.fields["team"].empty_label = "No team (account-wide)" if user.is_staff else None
        if self._meta.model is DeploymentPipeline:
            self._fit_kind()

    def _fit_kind(self) -> None:
        """Group the kinds, and keep to the fields the chosen kind uses: no branch filter for
        producers whose events name no branch. Without a kind yet, every field is shown."""
        kind = self.fields["kind"]
        kind.choices = [("", "Choose what sends the changes…"), *grouped_kinds()]
        kind.widget = KindSelect(choices=kind.choices)
        self.kind_info: KindInfo | None = PIPELINE_KINDS.get(self.chosen_kind)
        self.unused_fields: set[str] = set()
        if self.kind_info is not None and not self.kind_info.has_branches:
            self.unused_fields.add("branches")
        for name in self.unused_fields:
            # Not shown, and cleaned to empty whatever is posted: a filter left from another
            # kind is cleared rather than kept where nobody can see it.
            self.fields[name].disabled = True
            self.initial[name] = []

    @property
    def chosen_kind(self) -> str:
        """The kind as posted, else as given (initial, the query string), else the pipeline's."""
        if self.is_bound:
            return str(self.data.get(self.add_prefix("kind"), ""))
        return str(self.get_initial_for_field(self.fields["kind"], "kind") or "")

    @property
    def kind_fields(self) -> list[forms.BoundField]:
        """The fields after the kind that it uses, which the page redraws when it changes."""
        unused = getattr(self, "unused_fields", set())
        return [
            field
            for field in self
            if field.name not in self.LEADING_FIELDS and field.name not in unused
        ]


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
            "group_window_minutes",
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
            "group_window_minutes": "Group alerts into an open incident within (minutes)",
            "timestamp_tolerance_seconds": "Signed timestamp tolerance (seconds)",
            "insufficient_data": "CloudWatch INSUFFICIENT_DATA",
        }

    def __init__(self, *args: object, user: AbstractBaseUser, **kwargs: object) -> None:
        super().__init__(*args, user=user, **kwargs)
        del self.fields["branches"]
        # Correlation looks at most a day around an incident (incidents.correlation).
        self.fields["group_window_minutes"].help_text = (
            "An alert whose components meet an open incident's of the same team, started this "
            "long before, joins it. Empty: 10 for sources that send alerts, 0 (off) for the "
            "incidents API."
        )
        for name in (
            "window_minutes",
            "skew_minutes",
            "reopen_window_minutes",
            "group_window_minutes",
        ):
            self.fields[name].validators.append(MaxValueValidator(24 * 60))
            self.fields[name].widget.attrs["max"] = 24 * 60
