import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pipelines.endpoints import ingest_url
from pipelines.models import AlertSource, DeploymentPipeline
from pipelines.services import create_integration
from teams.models import Team

MODELS = {"pipeline": DeploymentPipeline, "alert-source": AlertSource}


class Command(BaseCommand):
    help = (
        "Create a deployment pipeline or an alert source and print "
        '{"id", "kind", "key", "secret", "url"} as JSON. The key is shown only here.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("what", help="pipeline or alert-source")
        parser.add_argument("--kind", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--team", help="slug of the owning team")
        parser.add_argument("--secret", help="signing secret (default: a random one)")

    def handle(self, *args: object, **options: str | None) -> None:
        model = MODELS.get(options["what"] or "")
        if model is None:
            self._fail(f"unknown integration {options['what']!r}: use pipeline or alert-source")
        kinds = model.Kind.values
        if options["kind"] not in kinds:
            choices = ", ".join(kinds)
            self._fail(f"unknown kind {options['kind']!r} for {options['what']}: use {choices}")
        name = (options["name"] or "").strip()
        if not name or len(name) > 100:
            self._fail("--name must be 1 to 100 characters")
        if model.objects.filter(name=name).exists():
            self._fail(f"a {options['what']} named {name!r} already exists")
        team = None
        if options["team"]:
            team = Team.objects.filter(slug=options["team"]).first()
            if team is None:
                self._fail(f"unknown team {options['team']!r}")

        integration, key = create_integration(
            model=model,
            name=name,
            kind=options["kind"],
            team=team,
            secret=options["secret"],
            by="manage.py create_integration",
        )
        output = {
            "id": integration.pk,
            "kind": integration.kind,
            "key": key,
            "secret": integration.secret,
            "url": ingest_url(integration, key),
        }
        self.stdout.write(json.dumps(output))

    def _fail(self, message: str) -> None:
        raise CommandError(message, returncode=2)
