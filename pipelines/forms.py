"""Settings forms for pipelines and alert sources. Shape only: the services own the rules."""

from collections.abc import Mapping
from typing import Any, ClassVar

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.validators import MaxValueValidator

from pipelines.kinds import (
    ALERT_SOURCE_KINDS,
    ALERT_SOURCE_OPTIONS,
    PIPELINE_KINDS,
    KindInfo,
    grouped_kinds,
)
from pipelines.models import (
    MAX_TIMESTAMP_TOLERANCE_SECONDS,
    AlertSource,
    AuthMode,
    DeploymentPipeline,
)
from teams.permissions import administered_teams


class ListField(forms.CharField):
    """A list typed as comma-separated words ("production, staging")."""

    def prepare_value(self, value: object) -> object:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: object) -> list[str]:
        text = super().to_python(value) or ""
        return [item.strip() for item in text.split(",") if item.strip()]


class KindSelect(forms.Select):
    """The kind <select>, each <option> titled with its kind's one-line description
    (pipelines.kinds); pipelines' kinds come in <optgroup>s by what they are."""

    def __init__(self, *args: Any, kinds: Mapping[str, KindInfo], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = kinds

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
        info = self.kinds.get(str(value))
        if info is not None:
            option["attrs"]["title"] = info.description
        return option


class IntegrationForm(forms.ModelForm):
    """What the pipeline and alert-source forms share: the teams the user may choose, and the
    fields that follow the kind, redrawn when it changes (templates/pipelines/
    integration_form.html): a field the chosen kind never reads is not shown."""

    # Shown before the fields that depend on the kind (kind_fields), and kept as they are when
    # it changes.
    LEADING_FIELDS = ("name", "team", "kind")
    KINDS: ClassVar[Mapping[str, KindInfo]]
    KIND_PROMPT: ClassVar[str]

    def __init__(self, *args: object, user: AbstractBaseUser, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = administered_teams(user)
        self.fields["team"].required = not user.is_staff
        self.fields["team"].empty_label = "No team (account-wide)" if user.is_staff else None
        self.fields["auth_mode"].label = "Authentication"
        self.fields["auth_mode"].help_text = (
            "Signature required: every request must carry a valid, fresh signature made with "
            "the signing secret, wherever its key is. Key only: the key alone lets it in."
        )
        typed = kwargs.get("initial")
        self._fit_kind()
        self._fit_auth_mode(typed if isinstance(typed, Mapping) else {})

    def kind_choices(self) -> list[Any]:
        return list(self._meta.model.Kind.choices)

    def unused_by(self, info: KindInfo) -> set[str]:
        """The fields a kind never reads."""
        raise NotImplementedError

    def cleared(self, name: str) -> object:
        """What an unused field is saved as: its model default (the mode: the kind's only one)."""
        if name == "auth_mode" and self.kind_info is not None:
            return self.kind_info.default_auth_mode
        return self._meta.model._meta.get_field(name).get_default()

    def _fit_kind(self) -> None:
        """Keep to the fields the chosen kind uses. Without a kind yet, every field is shown."""
        kind = self.fields["kind"]
        kind.choices = [("", self.KIND_PROMPT), *self.kind_choices()]
        kind.widget = KindSelect(choices=kind.choices, kinds=self.KINDS)
        self.kind_info: KindInfo | None = self.KINDS.get(self.chosen_kind)
        self.unused_fields = self.unused_by(self.kind_info) if self.kind_info else set()
        for name in self.unused_fields:
            # Not shown, and cleaned to its default whatever is posted: a setting left from
            # another kind is cleared rather than kept where nobody can see it.
            self.fields[name].disabled = True
            self.initial[name] = self.cleared(name)

    def _fit_auth_mode(self, typed: Mapping[str, Any]) -> None:
        """Offer the modes the chosen kind allows (pipelines.kinds); a new integration, or one
        whose kind changes to one without its mode, starts from the kind's default. Kinds with one
        mode do not show the field (unused_by) and are saved with it."""
        info = self.kind_info
        if info is None:
            return
        self.fields["auth_mode"].choices = [
            (mode, AuthMode(mode).label) for mode in info.auth_modes
        ]
        self.fields["auth_mode"].required = False  # not posted: the kind's default (clean_)
        if self.is_bound:
            return
        is_new = self.instance.pk is None and "auth_mode" not in typed
        if is_new or self.initial.get("auth_mode") not in info.auth_modes:
            self.initial["auth_mode"] = info.default_auth_mode

    def clean_auth_mode(self) -> str:
        mode = self.cleaned_data.get("auth_mode")
        if mode or self.kind_info is None:
            return mode
        return self.kind_info.default_auth_mode

    @property
    def chosen_kind(self) -> str:
        """The kind as posted, else as given (initial, the query string), else the instance's."""
        if self.is_bound:
            return str(self.data.get(self.add_prefix("kind"), ""))
        return str(self.get_initial_for_field(self.fields["kind"], "kind") or "")

    @property
    def kind_fields(self) -> list[forms.BoundField]:
        """The fields after the kind that it uses, which the page redraws when it changes."""
        return [
            field
            for field in self
            if field.name not in self.LEADING_FIELDS and field.name not in self.unused_fields
        ]


class PipelineForm(IntegrationForm):
    environments = ListField(required=False, help_text="Record only these (empty: all).")
    branches = ListField(required=False, help_text="Record pushes and runs of these only.")
    event_types = ListField(
        required=False, help_text="Producer event types to record (e.g. deployment_status)."
    )

    KINDS = PIPELINE_KINDS
    KIND_PROMPT = "Choose what sends the changes…"

    class Meta:
        model = DeploymentPipeline
        fields = ("name", "team", "kind", "auth_mode", "environments", "branches", "event_types")

    def kind_choices(self) -> list[Any]:
        return grouped_kinds()

    def unused_by(self, info: KindInfo) -> set[str]:
        # No branch filter for producers whose events name no branch.
        unused = set() if info.has_branches else {"branches"}
        return unused if info.mode_is_chosen else unused | {"auth_mode"}


class AlertSourceForm(IntegrationForm):
    default_components = ListField(
        required=False, help_text="When the alert names none (comma-separated)."
    )

    KINDS = ALERT_SOURCE_KINDS
    KIND_PROMPT = "Choose what sends the alerts…"

    class Meta:
        model = AlertSource
        # No environments or event types: alerts pass no noise filter (the model's fields are
        # shared with pipelines).
        fields = (
            "name",
            "team",
            "kind",
            "auth_mode",
            "default_severity",
            "default_components",
            "window_minutes",
            "skew_minutes",
            "quiet_period_minutes",
            "reopen_window_minutes",
            "group_window_minutes",
            "insufficient_data",
            "auto_confirm_subscriptions",
            "timestamp_tolerance_seconds",
        )
        labels: ClassVar = {
            "window_minutes": "Correlation window (minutes before the alert)",
            "skew_minutes": "Clock skew allowed (minutes after)",
            "quiet_period_minutes": "Auto-resolve after this many quiet minutes",
            "reopen_window_minutes": "Reopen instead of a new incident within (minutes)",
            "group_window_minutes": "Group alerts into an open incident within (minutes)",
            "timestamp_tolerance_seconds": "Signed timestamp tolerance (seconds)",
            "insufficient_data": "CloudWatch INSUFFICIENT_DATA",
            "auto_confirm_subscriptions": "Confirm SNS subscriptions without an admin's click",
        }

    def __init__(self, *args: object, user: AbstractBaseUser, **kwargs: object) -> None:
        super().__init__(*args, user=user, **kwargs)
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
        # The model's validators refuse more (one rule for the form, the API and the file).
        tolerance = self.fields["timestamp_tolerance_seconds"]
        tolerance.widget.attrs["max"] = MAX_TIMESTAMP_TOLERANCE_SECONDS
        tolerance.help_text = f"At most {MAX_TIMESTAMP_TOLERANCE_SECONDS} (a day)."

    def unused_by(self, info: KindInfo) -> set[str]:
        # CloudWatch's settings only for CloudWatch, the signature's only where one is made.
        unused = set(ALERT_SOURCE_OPTIONS) - info.options
        return unused if info.mode_is_chosen else unused | {"auth_mode"}
