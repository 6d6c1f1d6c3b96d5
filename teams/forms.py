"""Settings forms for teams, members and the component catalog; logging in and the profile."""

from datetime import datetime, timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from common.widgets import Checklist
from teams.models import ApiToken, Component, Membership, Team
from teams.time_zones import is_time_zone, time_zone_choices


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ("slug", "name")


class TeamNameForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ("name",)


class MemberForm(forms.Form):
    user = forms.CharField(label="Username or email", max_length=254)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class ComponentForm(forms.Form):
    name = forms.CharField(max_length=200)
    owner_team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)
    aliases = forms.CharField(
        required=False,
        help_text="Other names producers use, comma-separated (payments-prod, the pipeline's ARN).",
    )
    depends_on = forms.ModelMultipleChoiceField(
        queryset=Component.objects.none(),
        required=False,
        widget=Checklist,
        help_text="What it needs: changes to these rank as suspects of its incidents.",
    )

    def __init__(
        self, *args: object, teams: object, component: Component | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner_team"].queryset = teams
        others = Component.objects.all()
        if component is not None:
            others = others.exclude(pk=component.pk)
            self.initial.update(
                name=component.name,
                owner_team=component.owner_team,
                aliases=", ".join(alias.name for alias in component.aliases.all()),
                depends_on=list(component.depends_on.all()),
            )
        self.fields["depends_on"].queryset = others

    def clean_aliases(self) -> list[str]:
        return [alias.strip() for alias in self.cleaned_data["aliases"].split(",") if alias.strip()]


class LoginForm(AuthenticationForm):
    """The login form, with the browser's time zone (filled by static/js/app.js) riding along
    so the first page after the first login already shows times in it."""

    time_zone = forms.CharField(
        required=False, widget=forms.HiddenInput(attrs={"data-browser-time-zone": ""})
    )

    def clean_time_zone(self) -> str:
        # A guess from the browser, not the user's input: junk is dropped, never an error that
        # would stop them logging in.
        name = self.cleaned_data["time_zone"].strip()
        return name if is_time_zone(name) else ""


class ProfileForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=time_zone_choices,
        help_text="Every time on every page is shown in it; hover one to see it in UTC too.",
    )


class ApiTokenForm(forms.Form):
    """A new personal API token: what it is for, what it may do, how long it lives."""

    EXPIRY_CHOICES = (("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("never", "Never"))

    name = forms.CharField(
        max_length=100, help_text="What it is for, so you can tell your tokens apart."
    )
    scope = forms.ChoiceField(
        choices=ApiToken.Scope.choices,
        initial=ApiToken.Scope.READ,
        help_text="Read: GET only. Write: also changes what you may change in the product.",
    )
    expires = forms.ChoiceField(label="Expires", choices=EXPIRY_CHOICES, initial="90")

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def expires_at(self) -> datetime | None:
        """When the token stops working (None: never), counted from now."""
        choice = self.cleaned_data["expires"]
        return None if choice == "never" else timezone.now() + timedelta(days=int(choice))
