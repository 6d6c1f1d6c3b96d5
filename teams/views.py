"""Settings pages for teams, members, the component catalog and the audit log; logging in;
the user's profile (time zone, API tokens).

Members of any team may look; a team admin changes their own team's things; staff change
everything (teams.permissions). Views are thin: a form for the shape, a service for the rules.
"""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.exceptions import DomainError
from common.htmx import HtmxHttpRequest
from common.middleware import TIME_ZONE_SESSION_KEY
from common.pagination import keyset_page
from teams import audit, selectors, services
from teams.forms import (
    ApiTokenForm,
    ComponentForm,
    LoginForm,
    MemberForm,
    ProfileForm,
    RoleForm,
    TeamForm,
    TeamNameForm,
)
from teams.models import ApiToken, AuditEntry, Component, Membership, Team
from teams.permissions import (
    administered_teams,
    can_administer,
    can_revoke_token,
    require_admin,
)

# The profile page's token form, prefixed: its fields must not meet the time zone form's.
NEW_FORM_PREFIX = "token"
# Where a new token waits, in the session, for the one page that shows it.
SHOWN_ONCE_SESSION_KEY = "api-token-shown-once"


@login_required
@require_http_methods(["GET", "POST"])
def team_create(request: HtmxHttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise PermissionDenied("Only staff create teams.")
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.create_team(by=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            return redirect("settings:team", slug=team.slug)
    return render(
        request, "teams/team_form.html", {"form": form}, status=400 if form.errors else 200
    )


@login_required
@require_GET
def team_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team = get_object_or_404(Team, slug=slug)
    context = {
        "team": team,
        "members": team.memberships.select_related("user").order_by("user__username"),
        "can_change": can_administer(request.user, team),
        "name_form": TeamNameForm(instance=team),
        "member_form": MemberForm(),
        "roles": Membership.Role.choices,
    }
    return render(request, "teams/team_detail.html", context)


@login_required
@require_POST
def team_update(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team = get_object_or_404(Team, slug=slug)
    require_admin(request.user, team)
    form = TeamNameForm(request.POST, instance=Team.objects.get(pk=team.pk))
    if form.is_valid():
        services.update_team(by=request.user, team=team, name=form.cleaned_data["name"])
        messages.success(request, "Team renamed.")
    else:
        messages.error(request, " ".join(form.errors.get("name", ["Invalid name."])))
    return redirect("settings:team", slug=team.slug)


@login_required
@require_POST
def member_add(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team = get_object_or_404(Team, slug=slug)
    require_admin(request.user, team)
    form = MemberForm(request.POST)
    if form.is_valid():
        try:
            membership = services.add_member(
                by=request.user,
                team=team,
                username_or_email=form.cleaned_data["user"],
                role=form.cleaned_data["role"],
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{membership.user.get_username()} is a {membership.role}.")
    else:
        messages.error(request, "Give a username or email and a role.")
    return redirect("settings:team", slug=team.slug)


@login_required
@require_POST
def member_role(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    membership = get_object_or_404(
        Membership.objects.select_related("team", "user"), pk=pk, team__slug=slug
    )
    require_admin(request.user, membership.team)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.add_member(
                by=request.user,
                team=membership.team,
                username_or_email=membership.user.get_username(),
                role=form.cleaned_data["role"],
            )
        except DomainError as error:  # the last admin
            messages.error(request, error.message)
    return redirect("settings:team", slug=slug)


@login_required
@require_POST
def member_remove(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    membership = get_object_or_404(
        Membership.objects.select_related("team", "user"), pk=pk, team__slug=slug
    )
    require_admin(request.user, membership.team)
    try:
        services.remove_member(by=request.user, membership=membership)
    except DomainError as error:  # the last admin
        messages.error(request, error.message)
    else:
        messages.success(request, f"{membership.user.get_username()} left {membership.team.name}.")
    return redirect("settings:team", slug=slug)


@login_required
@require_GET
def component_list(request: HtmxHttpRequest) -> HttpResponse:
    components = (
        Component.objects.select_related("owner_team")
        .prefetch_related("aliases", "depends_on")
        .annotate(dependent_count=Count("dependents", distinct=True))
    )
    return render(request, "teams/component_list.html", {"components": components})


@login_required
@require_http_methods(["GET", "POST"])
def component_edit(request: HtmxHttpRequest, slug: str | None = None) -> HttpResponse:
    """Create (no slug) or edit a catalog component, its aliases and dependencies."""
    components = Component.objects.select_related("owner_team")  # for the admin check
    component = get_object_or_404(components, slug=slug) if slug else None
    if component is not None:
        require_admin(request.user, component.owner_team)
    teams = administered_teams(request.user)
    form = ComponentForm(request.POST or None, teams=teams, component=component)
    if request.method == "POST" and form.is_valid():
        require_admin(request.user, form.cleaned_data["owner_team"])
        try:
            saved = services.save_component(
                by=request.user,
                component=component,
                name=form.cleaned_data["name"],
                owner_team=form.cleaned_data["owner_team"],
                aliases=form.cleaned_data["aliases"],
                depends_on=list(form.cleaned_data["depends_on"]),
            )
        except DomainError as error:
            for field, problems in (error.fields or {None: [error.message]}).items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, f"Saved {saved.name}.")
            return redirect("settings:components")
    context = {"form": form, "component": component}
    return render(request, "teams/component_form.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def component_delete(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    component = get_object_or_404(Component.objects.select_related("owner_team"), slug=slug)
    require_admin(request.user, component.owner_team)
    services.delete_component(by=request.user, component=component)
    messages.success(request, f"Deleted {component.name}.")
    return redirect("settings:components")


@login_required
@require_GET
def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    entries = AuditEntry.objects.select_related("team")
    team_slug = request.GET.get("team", "")
    if team_slug:
        entries = entries.filter(team__slug=team_slug)
    page = keyset_page(entries, time_field="at", before=request.GET.get("before", ""))
    rows = [(entry, audit.present(entry)) for entry in page.items]
    context = {"page": page, "rows": rows, "teams": Team.objects.all(), "team_slug": team_slug}
    return render(request, "teams/audit_log.html", context)


# --- Logging in and the user's profile ------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Django's login, which also keeps the browser's time zone at the first login."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: LoginForm) -> HttpResponse:
        # Before logging in: login() caches the profile's zone in the new session
        # (teams.signals), so the very first page renders in it.
        services.prefill_time_zone(user=form.get_user(), time_zone=form.cleaned_data["time_zone"])
        return super().form_valid(form)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HtmxHttpRequest) -> HttpResponse:
    """The user's own settings, one section each: the time zone every page renders in, and
    their API tokens (and, for staff, everyone's)."""
    time_zone = selectors.profile_time_zone(request.user)
    form = ProfileForm(request.POST or None, initial={"time_zone": time_zone or "UTC"})
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.set_time_zone(
                user=request.user, time_zone=form.cleaned_data["time_zone"]
            )
        except DomainError as error:
            form.add_error("time_zone", error.message)
        else:
            # The middleware reads the session's copy: the next page is already in the new zone.
            request.session[TIME_ZONE_SESSION_KEY] = saved.time_zone
            messages.success(request, f"Saved. Times are shown in {saved.time_zone}.")
            return redirect("profile")
    return _profile_page(request, form=form, time_zone=time_zone)


@login_required
@require_POST
def api_token_create(request: HtmxHttpRequest) -> HttpResponse:
    """Make a token for the user; the clear token is on the next page once, never again."""
    token_form = ApiTokenForm(request.POST, prefix=NEW_FORM_PREFIX)
    if not token_form.is_valid():
        return _profile_page(request, token_form=token_form)
    api_token, token = services.create_api_token(
        user=request.user,
        name=token_form.cleaned_data["name"],
        scope=token_form.cleaned_data["scope"],
        expires_at=token_form.expires_at(),
    )
    request.session[SHOWN_ONCE_SESSION_KEY] = {"id": api_token.pk, "token": token}
    messages.success(request, f"Created the {api_token.scope} token {api_token.name}.")
    return redirect(f"{reverse('profile')}#api-tokens")


@login_required
@require_POST
def api_token_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's tokens, or anyone's for staff; another's token is a 404."""
    api_token = ApiToken.objects.select_related("user").filter(pk=pk).first()
    if api_token is None or not can_revoke_token(request.user, api_token):
        raise Http404("No such token.")
    services.revoke_api_token(by=request.user, api_token=api_token)
    whose = "" if api_token.user_id == request.user.pk else f" of {api_token.user.get_username()}"
    messages.success(
        request, f"Revoked the token {api_token.name or api_token.token_prefix}{whose}."
    )
    return redirect(f"{reverse('profile')}#api-tokens")


def _profile_page(
    request: HtmxHttpRequest,
    *,
    form: ProfileForm | None = None,
    time_zone: str | None = None,
    token_form: ApiTokenForm | None = None,
) -> HttpResponse:
    if time_zone is None:
        time_zone = selectors.profile_time_zone(request.user)
    if form is None:
        form = ProfileForm(initial={"time_zone": time_zone or "UTC"})
    shown = request.session.pop(SHOWN_ONCE_SESSION_KEY, None) if request.method == "GET" else None
    context = {
        "form": form,
        "time_zone": time_zone,
        "token_form": token_form or ApiTokenForm(prefix=NEW_FORM_PREFIX),
        "tokens": selectors.api_tokens_of(request.user),
        "shown_token": shown or {},
        "all_tokens": (
            selectors.all_api_tokens().exclude(user_id=request.user.pk)
            if request.user.is_staff
            else None
        ),
        "now": timezone.now(),
    }
    invalid = form.errors or (token_form is not None and token_form.errors)
    return render(request, "teams/profile.html", context, status=400 if invalid else 200)
