from django.db import migrations, models


class Migration(migrations.Migration):
    """Personal tokens get a scope and an optional expiry; the audit log can say "revoked".

    Tokens made before scopes had full access: they stay `write` (and never expire), so no
    script breaks. New tokens are `read` unless asked otherwise.
    """

    dependencies = [
        ("teams", "0003_profile_time_zone"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="apitoken",
            options={"ordering": ("-created_at", "-id")},
        ),
        migrations.AddField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[("read", "read"), ("write", "write")], default="write", max_length=5
            ),
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[("read", "read"), ("write", "write")], default="read", max_length=5
            ),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("created", "created"),
                    ("changed", "changed"),
                    ("rotated", "rotated the key of"),
                    ("disabled", "disabled"),
                    ("enabled", "enabled"),
                    ("deleted", "deleted"),
                    ("revoked", "revoked"),
                ],
                max_length=10,
            ),
        ),
    ]
