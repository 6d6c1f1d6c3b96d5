"""The configuration API for teams, members, the component catalog and the audit log.

Everything a team admin does in Settings, for scripts and Terraform's HTTP provider. Views
check who may, validate the shape, and call teams.services, which own the rules and the audit.
"""

from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api_errors import ErrorSerializer
from common.pagination import MAX_API_PAGE_SIZE, keyset_api_page
from teams import services
from teams.api.permissions import CanAdministerOrReadOnly, require_staff
from teams.api.serializers import (
    AuditEntrySerializer,
    AuditLogPageSerializer,
    ComponentSerializer,
    MemberAddSerializer,
    MemberRoleSerializer,
    MemberSerializer,
    TeamSerializer,
)
from teams.models import AuditEntry, Component, Membership, Team
from teams.permissions import require_admin

ERRORS = dict.fromkeys((400, 403, 404), ErrorSerializer)
CREATE_ERRORS = dict.fromkeys((400, 403), ErrorSerializer)


class TeamsApi(APIView):
    """All teams; staff create them."""

    permission_classes = (CanAdministerOrReadOnly,)

    @extend_schema(operation_id="teams_list", responses=TeamSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(TeamSerializer(_teams(), many=True).data)

    @extend_schema(
        operation_id="teams_create",
        request=TeamSerializer,
        responses={201: TeamSerializer} | CREATE_ERRORS,
    )
    def post(self, request: Request) -> Response:
        require_staff(request.user, "create teams")
        body = TeamSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        team = services.create_team(by=request.user, **body.validated_data)
        return Response(TeamSerializer(_teams().get(pk=team.pk)).data, status=201)


class TeamDetailApi(APIView):
    """One team: its admins (or staff) rename or delete it. Deleting leaves its components,
    pipelines and alert sources in place, without a team (so staff's)."""

    permission_classes = (CanAdministerOrReadOnly,)

    def team_of(self, team: Team) -> Team:
        return team

    def get_object(self, slug: str) -> Team:
        team = get_object_or_404(_teams(), slug=slug)
        self.check_object_permissions(self.request, team)
        return team

    @extend_schema(operation_id="team_detail", responses={200: TeamSerializer} | ERRORS)
    def get(self, request: Request, slug: str) -> Response:
        return Response(TeamSerializer(self.get_object(slug)).data)

    @extend_schema(
        operation_id="team_update", request=TeamSerializer, responses={200: TeamSerializer} | ERRORS
    )
    def patch(self, request: Request, slug: str) -> Response:
        team = self.get_object(slug)
        body = TeamSerializer(team, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        if body.validated_data.get("slug", team.slug) != team.slug:
            raise exceptions.ValidationError({"slug": ["A team's slug cannot change."]})
        if "name" in body.validated_data:
            services.update_team(by=request.user, team=team, name=body.validated_data["name"])
        return Response(TeamSerializer(self.get_object(slug)).data)

    @extend_schema(operation_id="team_delete", responses={204: None} | ERRORS)
    def delete(self, request: Request, slug: str) -> Response:
        services.delete_team(by=request.user, team=self.get_object(slug))
        return Response(status=204)


class TeamMembersApi(APIView):
    """A team's members; its admins (or staff) add people or change a member's role."""

    permission_classes = (CanAdministerOrReadOnly,)

    def team_of(self, team: Team) -> Team:
        return team

    @extend_schema(operation_id="team_members_list", responses={200: MemberSerializer(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        team = get_object_or_404(Team, slug=slug)
        return Response(MemberSerializer(_members(team), many=True).data)

    @extend_schema(
        operation_id="team_members_add",
        request=MemberAddSerializer,
        responses={200: MemberSerializer, 201: MemberSerializer} | ERRORS,
        description="Adds the user (by username or email) with the role; 200 when the user was "
        "a member already and only the role changed.",
    )
    def post(self, request: Request, slug: str) -> Response:
        team = get_object_or_404(Team, slug=slug)
        self.check_object_permissions(request, team)
        body = MemberAddSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        existing = set(team.memberships.values_list("pk", flat=True))
        membership = services.add_member(
            by=request.user,
            team=team,
            username_or_email=body.validated_data["user"],
            role=body.validated_data["role"],
        )
        status = 200 if membership.pk in existing else 201
        return Response(MemberSerializer(membership).data, status=status)


class TeamMemberDetailApi(APIView):
    """One member of a team, by username: change their role or remove them."""

    permission_classes = (CanAdministerOrReadOnly,)

    def team_of(self, membership: Membership) -> Team:
        return membership.team

    def get_object(self, slug: str, username: str) -> Membership:
        membership = get_object_or_404(
            Membership.objects.select_related("team", "user"),
            team__slug=slug,
            user__username=username,
        )
        self.check_object_permissions(self.request, membership)
        return membership

    @extend_schema(operation_id="team_member_detail", responses={200: MemberSerializer} | ERRORS)
    def get(self, request: Request, slug: str, username: str) -> Response:
        return Response(MemberSerializer(self.get_object(slug, username)).data)

    @extend_schema(
        operation_id="team_member_update",
        request=MemberRoleSerializer,
        responses={200: MemberSerializer} | ERRORS,
    )
    def patch(self, request: Request, slug: str, username: str) -> Response:
        membership = self.get_object(slug, username)
        body = MemberRoleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = services.add_member(
            by=request.user,
            team=membership.team,
            username_or_email=membership.user.get_username(),
            role=body.validated_data["role"],
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(operation_id="team_member_remove", responses={204: None} | ERRORS)
    def delete(self, request: Request, slug: str, username: str) -> Response:
        services.remove_member(by=request.user, membership=self.get_object(slug, username))
        return Response(status=204)


class ComponentsApi(APIView):
    """The service catalog. A team admin adds components owned by their team; staff any."""

    permission_classes = (CanAdministerOrReadOnly,)

    @extend_schema(operation_id="components_list", responses=ComponentSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(ComponentSerializer(_components(), many=True).data)

    @extend_schema(
        operation_id="components_create",
        request=ComponentSerializer,
        responses={201: ComponentSerializer} | CREATE_ERRORS,
    )
    def post(self, request: Request) -> Response:
        body = ComponentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = _component_fields(body.validated_data, None)
        require_admin(request.user, fields["owner_team"])
        component = services.save_component(by=request.user, component=None, **fields)
        return Response(ComponentSerializer(_components().get(pk=component.pk)).data, status=201)


class ComponentDetailApi(APIView):
    """One component, by slug: its owner team's admins (or staff) change or delete it."""

    permission_classes = (CanAdministerOrReadOnly,)

    def team_of(self, component: Component) -> Team | None:
        return component.owner_team

    def get_object(self, slug: str) -> Component:
        component = get_object_or_404(_components(), slug=slug)
        self.check_object_permissions(self.request, component)
        return component

    @extend_schema(operation_id="component_detail", responses={200: ComponentSerializer} | ERRORS)
    def get(self, request: Request, slug: str) -> Response:
        return Response(ComponentSerializer(self.get_object(slug)).data)

    @extend_schema(
        operation_id="component_update",
        request=ComponentSerializer,
        responses={200: ComponentSerializer} | ERRORS,
        description="Fields left out keep their value; `aliases` and `depends_on` are replaced.",
    )
    def patch(self, request: Request, slug: str) -> Response:
        component = self.get_object(slug)
        body = ComponentSerializer(component, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        fields = _component_fields(body.validated_data, component)
        if fields["owner_team"] != component.owner_team:
            require_admin(request.user, fields["owner_team"])  # moving it: admin of both teams
        component = services.save_component(by=request.user, component=component, **fields)
        return Response(ComponentSerializer(_components().get(pk=component.pk)).data)

    @extend_schema(operation_id="component_delete", responses={204: None} | ERRORS)
    def delete(self, request: Request, slug: str) -> Response:
        services.delete_component(by=request.user, component=self.get_object(slug))
        return Response(status=204)


class AuditLogApi(APIView):
    """Who changed which setting, newest first, with a keyset cursor. Never holds a secret."""

    permission_classes = (CanAdministerOrReadOnly,)

    @extend_schema(
        operation_id="audit_log_list",
        parameters=[
            OpenApiParameter("team", str, description="only this team's entries (team slug)"),
            OpenApiParameter("cursor", str, description="the `next_cursor` of the previous page"),
            OpenApiParameter("limit", int, description=f"page size, at most {MAX_API_PAGE_SIZE}"),
        ],
        responses={200: AuditLogPageSerializer, 400: ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        entries = AuditEntry.objects.select_related("team")
        team_slug = request.query_params.get("team", "")
        if team_slug:
            entries = entries.filter(team__slug=team_slug)
        return Response(
            keyset_api_page(request, entries, time_field="at", serializer=AuditEntrySerializer)
        )


def _teams() -> QuerySet[Team]:
    return Team.objects.annotate(member_count=Count("memberships"))


def _members(team: Team) -> QuerySet[Membership]:
    return team.memberships.select_related("user").order_by("user__username")


def _components() -> QuerySet[Component]:
    return Component.objects.select_related("owner_team").prefetch_related(
        "aliases", Prefetch("depends_on", queryset=Component.objects.only("id", "name"))
    )


def _component_fields(data: dict[str, Any], component: Component | None) -> dict[str, Any]:
    """What save_component needs: the body's fields, the component's own for the rest."""
    if component is None:
        return {
            "name": data["name"],
            "owner_team": data.get("owner_team"),
            "aliases": data.get("aliases", []),
            "depends_on": data.get("depends_on", []),
        }
    return {
        "name": data.get("name", component.name),
        "owner_team": data.get("owner_team", component.owner_team),
        "aliases": data.get("aliases", [alias.name for alias in component.aliases.all()]),
        "depends_on": data.get("depends_on", list(component.depends_on.all())),
    }
