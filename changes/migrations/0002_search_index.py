"""A trigram index for the deployments search (changes.models.search_text), PostgreSQL only.

Built CONCURRENTLY, so ingest goes on while it builds on a big table (hence not atomic).
pg_trgm is a trusted extension: the database's owner may create it.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX = "change_search_idx"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON changes_changeevent USING gin "
        "((UPPER(summary || ' ' || description || ' ' || version || ' ' || component"
        " || ' ' || \"commit\")) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("changes", "0001_initial")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
