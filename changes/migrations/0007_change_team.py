"""The team each change counts for, stored on the change, with a (team, time) index.

The rule (changes.ownership): a change counts for its pipeline's team; a change without a
pipeline, for the owner team of its catalog component. The backfill is one UPDATE … FROM per
rule, before the index exists: one sorted build afterwards instead of an insertion per row.
"""

import django.db.models.deletion
from django.db import migrations, models


def fill_change_teams(apps, schema_editor):
    ChangeEvent = apps.get_model("changes", "ChangeEvent")
    DeploymentPipeline = apps.get_model("pipelines", "DeploymentPipeline")
    Component = apps.get_model("teams", "Component")
    quote = schema_editor.quote_name
    changes, pipelines, components = (
        quote(model._meta.db_table) for model in (ChangeEvent, DeploymentPipeline, Component)
    )
    schema_editor.execute(
        f"UPDATE {changes} SET team_id = {pipelines}.team_id FROM {pipelines} "
        f"WHERE {changes}.pipeline_id = {pipelines}.id AND {pipelines}.team_id IS NOT NULL"
    )
    schema_editor.execute(
        f"UPDATE {changes} SET team_id = {components}.owner_team_id FROM {components} "
        f"WHERE {changes}.pipeline_id IS NULL "
        f"AND {changes}.resolved_component_id = {components}.id "
        f"AND {components}.owner_team_id IS NOT NULL"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("changes", "0006_remove_settings_test_changes"),
        ("pipelines", "0006_integration_auth_mode_and_signature_retention"),
        ("teams", "0004_api_token_scope_and_expiry"),
    ]

    operations = [
        migrations.AddField(
            model_name="changeevent",
            name="team",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="changes",
                to="teams.team",
            ),
        ),
        migrations.RunPython(fill_change_teams, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="changeevent",
            index=models.Index(fields=["team", "-occurred_at", "-id"], name="change_team_time_idx"),
        ),
    ]
