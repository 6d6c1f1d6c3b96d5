"""Remove the changes that Settings' old "Send test event" button recorded.

They were no changes: they topped the deployments feed, became suspects of incidents and showed
in postmortems. The button now only logs a delivery. Their suspect rows go with them (cascade);
the remaining suspects of each incident they were ranked in close up behind them, so the
incident's top suspect is rank 1 again. Not reversible: nothing is lost that was ever real.
"""

from django.db import migrations

# What the old button recorded, every field of it, so that no producer's change can match.
OLD_TEST_CHANGES = {
    "component": "whatchanged-test",
    "environment": "test",
    "kind": "other",
    "summary__startswith": "Test event sent from Settings by ",
    "author": None,
    "identity": "",
    "version": "",
    "commit": "",
}


def remove_settings_test_changes(apps, schema_editor):
    ChangeEvent = apps.get_model("changes", "ChangeEvent")
    SuspectChange = apps.get_model("incidents", "SuspectChange")
    tests = ChangeEvent.objects.filter(**OLD_TEST_CHANGES)
    incident_ids = set(
        SuspectChange.objects.filter(change__in=tests).values_list("incident_id", flat=True)
    )
    tests.delete()
    for incident_id in incident_ids:  # a handful: only where a test was a suspect
        suspects = list(SuspectChange.objects.filter(incident_id=incident_id).order_by("rank"))
        for rank, suspect in enumerate(suspects, start=1):
            suspect.rank = rank
        SuspectChange.objects.bulk_update(suspects, ["rank"])


class Migration(migrations.Migration):
    dependencies = [
        ("changes", "0005_time_index_with_start"),
        # Their suspects are re-ranked, so the suspects' table must be there.
        ("incidents", "0006_alerts"),
    ]

    operations = [
        migrations.RunPython(remove_settings_test_changes, migrations.RunPython.noop),
    ]
