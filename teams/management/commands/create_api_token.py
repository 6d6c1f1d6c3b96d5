from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from common.exceptions import DomainError
from teams.models import ApiToken
from teams.services import create_api_token

MAX_DAYS = 36500  # a hundred years: past that, say never


class Command(BaseCommand):
    help = (
        "Print a new personal API token (Authorization: Token <token>): read-only unless "
        "--scope write, never expiring unless --expires."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for")
        parser.add_argument(
            "--scope",
            choices=ApiToken.Scope.values,
            default=ApiToken.Scope.READ,
            help="read (GET only, the default) or write",
        )
        parser.add_argument(
            "--expires",
            default="never",
            help="days from now (30), a date (2027-06-30, at 00:00 UTC), or never (the default)",
        )

    def handle(
        self, *args: object, username: str, name: str, scope: str, expires: str, **options: object
    ) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}", returncode=2)
        expires_at = _expiry(expires)
        try:
            _, token = create_api_token(
                user=user, name=name, scope=scope, expires_at=expires_at, by="create_api_token"
            )
        except DomainError as error:
            raise CommandError(error.message, returncode=2) from None
        self.stdout.write(token)  # alone on stdout, for scripts to capture
        until = expires_at.isoformat(timespec="minutes") if expires_at else "never"
        self.stderr.write(f"{scope} token for {username}, expires: {until}")


def _expiry(text: str) -> datetime | None:
    """`never`, a number of days from now, or an ISO date (the token stops at its start, UTC)."""
    text = text.strip()
    if text.lower() == "never":
        return None
    if text.isdigit():
        if not 1 <= int(text) <= MAX_DAYS:
            raise CommandError(f"--expires: from 1 to {MAX_DAYS} days", returncode=2)
        return timezone.now() + timedelta(days=int(text))
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--expires: {text!r} is neither a number of days, a date (YYYY-MM-DD) nor never",
            returncode=2,
        ) from None
    return datetime.combine(day, time.min, tzinfo=UTC)
