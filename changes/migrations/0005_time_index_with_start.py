from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("changes", "0004_change_lifecycle")]

    operations = [
        migrations.RemoveIndex(model_name="changeevent", name="change_time_idx"),
        migrations.AddIndex(
            model_name="changeevent",
            index=models.Index(
                fields=["-occurred_at", "-id", "started_at"], name="change_time_idx"
            ),
        ),
    ]
