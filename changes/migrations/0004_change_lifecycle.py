"""A change is a lifecycle: its start, its finish, its reports, its identity, its group.

Existing rows become one-report changes: started_at = occurred_at, and finished_at too unless
the change is still marked started.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import F


def spans_from_occurred_at(apps, schema_editor):
    ChangeEvent = apps.get_model("changes", "ChangeEvent")
    ChangeEvent.objects.update(started_at=F("occurred_at"))
    ChangeEvent.objects.exclude(outcome="started").update(finished_at=F("occurred_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("changes", "0003_outcome_and_kind_indexes"),
        ("pipelines", "0003_alertsource_auto_confirm_subscriptions_seensignature_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="changeevent",
            name="started_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="changeevent",
            name="finished_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(spans_from_occurred_at, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="changeevent",
            name="started_at",
            field=models.DateTimeField(),
        ),
        migrations.AddField(
            model_name="changeevent",
            name="identity",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name="changeevent",
            name="events",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="changeevent",
            name="same_as",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="also_reported",
                to="changes.changeevent",
            ),
        ),
        migrations.AddField(
            model_name="changeevent",
            name="rolled_back_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="rolled_back_changes",
                to="changes.changeevent",
            ),
        ),
        migrations.AlterField(
            model_name="changeevent",
            name="outcome",
            field=models.CharField(
                choices=[
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                    ("started", "Started"),
                    ("cancelled", "Cancelled"),
                ],
                default="succeeded",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="changeevent",
            constraint=models.UniqueConstraint(
                condition=models.Q(("identity", ""), _negated=True),
                fields=("pipeline", "identity"),
                name="uniq_change_identity_per_pipeline",
            ),
        ),
        migrations.AddIndex(
            model_name="changeevent",
            index=models.Index(
                condition=models.Q(("same_as__isnull", False)),
                fields=["same_as"],
                name="change_same_as_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="changeevent",
            index=models.Index(
                condition=models.Q(("rolled_back_by__isnull", False)),
                fields=["rolled_back_by"],
                name="change_rolled_back_by_idx",
            ),
        ),
    ]
