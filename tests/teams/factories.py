import factory
from django.contrib.auth import get_user_model

from common.tokens import hash_token, visible_prefix
from teams.models import ApiToken, Component, ComponentAlias, Membership, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda team: team.slug.title())


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Membership.Role.MEMBER


class ComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Component
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"component-{n}")
    slug = factory.LazyAttribute(lambda component: component.name.replace(" ", "-"))
    owner_team = factory.SubFactory(TeamFactory)


class ComponentAliasFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ComponentAlias

    component = factory.SubFactory(ComponentFactory)
    name = factory.Sequence(lambda n: f"alias-{n}")


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """A personal token; pass `token=` to know the clear one (hashed as the service does).
    Unlike teams.services.create_api_token it writes no audit entry, so tests that count a
    setting's entries count only those."""

    class Meta:
        model = ApiToken
        exclude = ("token",)

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"token-{n}")
    scope = ApiToken.Scope.READ
    token = factory.Sequence(lambda n: f"wct_test-token-{n:04d}-0123456789")
    token_hash = factory.LazyAttribute(lambda api_token: hash_token(api_token.token))
    token_prefix = factory.LazyAttribute(lambda api_token: visible_prefix(api_token.token))
