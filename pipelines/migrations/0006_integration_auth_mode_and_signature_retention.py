"""Each integration gets an explicit authentication mode, and remembered signatures can belong to
a pipeline too (a generic pipeline may require signed requests).

Existing rows keep what they did, minus the hole: a signature is required where it was checked
before (the kinds that always sign, with a secret) and for signed webhook alert sources with a
secret, which until now also took their key alone in an Authorization header. Everything else
(a generic pipeline never signed, an integration without a secret) is `key`.
"""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


# The kinds whose signature was checked before this migration (with a secret).
SIGNED_PIPELINE_KINDS = ("github", "gitlab", "flux", "terraform_cloud", "launchdarkly", "flagsmith")
SIGNED_SOURCE_KINDS = ("webhook",)


def require_signatures_where_they_were_made(apps, schema_editor):
    for model, kinds in (
        (apps.get_model("pipelines", "DeploymentPipeline"), SIGNED_PIPELINE_KINDS),
        (apps.get_model("pipelines", "AlertSource"), SIGNED_SOURCE_KINDS),
    ):
        model.objects.filter(kind__in=kinds).exclude(secret="").update(auth_mode="signature")


class Migration(migrations.Migration):

    dependencies = [
        ('pipelines', '0005_alertsource_group_window_minutes'),
    ]

    operations = [
        migrations.AddField(
            model_name='alertsource',
            name='auth_mode',
            field=models.CharField(choices=[('signature', 'Signature required'), ('key', 'Key only')], db_default='key', default='key', max_length=10),
        ),
        migrations.AddField(
            model_name='deploymentpipeline',
            name='auth_mode',
            field=models.CharField(choices=[('signature', 'Signature required'), ('key', 'Key only')], db_default='key', default='key', max_length=10),
        ),
        migrations.RunPython(require_signatures_where_they_were_made, migrations.RunPython.noop),
        migrations.AddField(
            model_name='seensignature',
            name='pipeline',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='pipelines.deploymentpipeline'),
        ),
        migrations.AlterField(
            model_name='alertsource',
            name='timestamp_tolerance_seconds',
            field=models.PositiveIntegerField(default=300, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(86400, message='At most %(limit_value)s seconds (a day): a signed request older than that could be replayed once its remembered signature is cleaned up.')]),
        ),
        migrations.AlterField(
            model_name='seensignature',
            name='alert_source',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='pipelines.alertsource'),
        ),
        migrations.AddIndex(
            model_name='seensignature',
            index=models.Index(fields=['seen_at'], name='seen_signature_seen_at_idx'),
        ),
        migrations.AddConstraint(
            model_name='seensignature',
            constraint=models.UniqueConstraint(fields=('pipeline', 'signature'), name='uniq_seen_pipeline_signature'),
        ),
        migrations.AddConstraint(
            model_name='seensignature',
            constraint=models.CheckConstraint(condition=models.Q(('pipeline__isnull', True), ('alert_source__isnull', True), _connector='XOR'), name='seen_signature_has_one_integration'),
        ),
    ]
