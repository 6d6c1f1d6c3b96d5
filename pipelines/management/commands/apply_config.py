import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.config_files import ConfigInvalid
from pipelines.config_as_code import apply_config, parse_config


class Command(BaseCommand):
    help = (
        "Create or update the teams, components, pipelines and alert sources a YAML file lists. "
        "Idempotent; validates the whole file before writing; prints the integrations as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: object, file: Path, **options: object) -> None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read {file}: {error}", returncode=2) from None
        try:
            result = apply_config(parse_config(text))
        except ConfigInvalid as invalid:
            for line in invalid.errors:
                self.stderr.write(f"{file}: {line}")
            raise CommandError(
                f"{file}: {len(invalid.errors)} error(s), nothing was changed", returncode=2
            ) from None
        self.stdout.write(json.dumps(result))
