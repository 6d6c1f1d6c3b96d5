import factory
from django.contrib.auth import get_user_model

from teams.models import Component, ComponentAlias, Membership, Team


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
