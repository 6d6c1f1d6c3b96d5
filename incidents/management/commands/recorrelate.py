from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from common.times import parse_timestamp
from incidents import correlation
from incidents.models import Incident


class Command(BaseCommand):
    help = (
        "Recompute the suspects of incidents that started in a time range, after changing "
        "windows, aliases or ownership. Verdicts on changes that stay suspects are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="ISO 8601 time (default: 7 days ago)")
        parser.add_argument("--until", help="ISO 8601 time (default: now)")

    def handle(
        self, *args: object, since: str | None, until: str | None, **options: object
    ) -> None:
        end = self._time(until, "--until") if until else timezone.now()
        start = self._time(since, "--since") if since else end - timedelta(days=7)
        if start > end:
            raise CommandError("--since must be before --until", returncode=2)
        incident_ids = Incident.objects.filter(started_at__gte=start, started_at__lte=end)
        count = 0
        for incident_id in incident_ids.values_list("id", flat=True).iterator():
            correlation.correlate_incident(incident_id=incident_id)
            count += 1
        self.stdout.write(f"Recomputed the suspects of {count} incident(s).")

    def _time(self, value: str, option: str) -> datetime:
        parsed = parse_timestamp(value)
        if parsed is None:
            raise CommandError(f"{option}: not an ISO 8601 time: {value!r}", returncode=2)
        return parsed
