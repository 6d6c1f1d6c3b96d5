"""Settings forms for teams, members and the component catalog."""

from django import forms

from teams.models import Component, Membership, Team


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
        widget=forms.SelectMultiple(attrs={"size": 6}),
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
