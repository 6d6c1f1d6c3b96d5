"""The manual change form: hotfixes and console changes, recorded by a person."""

from django import forms
from django.core.validators import URLValidator
from django.utils import timezone

from changes.adapters.base import CanonicalChange
from changes.models import ChangeEvent

KINDS = [(value, label) for value, label in ChangeEvent.Kind.choices]


class ManualChangeForm(forms.Form):
    component = forms.CharField(
        max_length=200,
        widget=forms.TextInput(attrs={"list": "component-suggestions", "autocomplete": "off"}),
        help_text="As the catalog names it; aliases work too.",
    )
    environment = forms.CharField(max_length=100, initial="production")
    kind = forms.ChoiceField(choices=KINDS, initial=ChangeEvent.Kind.MANUAL)
    summary = forms.CharField(max_length=500, help_text="One line: what changed.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    occurred_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    links = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="One http(s) link per line: ticket, runbook, console.",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["occurred_at"].initial = timezone.localtime().replace(second=0, microsecond=0)
        # DateTimeField reads what is typed in the active zone: the viewer's, from their profile.
        zone = timezone.get_current_timezone_name()
        self.fields["occurred_at"].label = f"Occurred at ({zone})"
        self.fields["occurred_at"].help_text = f"Read in {zone}; change it on your profile."

    def clean_occurred_at(self) -> object:
        occurred_at = self.cleaned_data["occurred_at"]
        if occurred_at > timezone.now() + timezone.timedelta(minutes=5):
            raise forms.ValidationError("A change that has not happened yet cannot be recorded.")
        return occurred_at

    def clean_links(self) -> list[dict[str, str]]:
        links = []
        validate = URLValidator(schemes=["http", "https"])
        for line in self.cleaned_data["links"].splitlines():
            if line.strip():
                try:
                    validate(line.strip())
                except forms.ValidationError:
                    raise forms.ValidationError(f"Not an http(s) link: {line.strip()}") from None
                links.append({"href": line.strip(), "text": ""})
        return links

    def to_change(self) -> CanonicalChange:
        data = self.cleaned_data
        return CanonicalChange(
            component=data["component"],
            occurred_at=data["occurred_at"],
            environment=data["environment"],
            kind=data["kind"],
            summary=data["summary"],
            description=data["description"],
            links=tuple(data["links"]),
            event_type="manual",
        )
