"""Three single-column foreign-key indexes go: the pipeline's and the resolved component's
lead (pipeline, time) and (component, time) indexes already, and only hand-entered changes
have an author (a partial index). Each row of a batch maintains three indexes fewer.

Only the indexes are dropped: Django's own AlterField would also drop and re-add the foreign
keys, re-checking every row of a big table under its lock."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

DROPPED = {
    "author": "changes_changeevent_author_id_4a3b59b0",
    "pipeline": "changes_changeevent_pipeline_id_317d7be9",
    "resolved_component": "changes_changeevent_resolved_component_id_85d6ca39",
}


class Migration(migrations.Migration):
    dependencies = [
        ("changes", "0007_change_team"),
        ("pipelines", "0006_integration_auth_mode_and_signature_retention"),
        ("teams", "0004_api_token_scope_and_expiry"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX "{index}" ON "changes_changeevent" ("{field}_id")',
                )
                for field, index in DROPPED.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="changeevent",
                    name="author",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="manual_changes",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="changeevent",
                    name="pipeline",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="changes",
                        to="pipelines.deploymentpipeline",
                    ),
                ),
                migrations.AlterField(
                    model_name="changeevent",
                    name="resolved_component",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="changes",
                        to="teams.component",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="changeevent",
            index=models.Index(
                condition=models.Q(("author__isnull", False)),
                fields=["author"],
                name="change_author_idx",
            ),
        ),
    ]
