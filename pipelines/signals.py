"""Drop an integration's cached key lookup whenever it changes, is rotated or deleted."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from common.cache import forget
from pipelines.ingest import integration_cache_key
from pipelines.models import AlertSource, DeploymentPipeline, Integration


@receiver(post_save, sender=DeploymentPipeline)
@receiver(post_save, sender=AlertSource)
@receiver(post_delete, sender=DeploymentPipeline)
@receiver(post_delete, sender=AlertSource)
def forget_cached_lookup(sender: type[Integration], instance: Integration, **kwargs: Any) -> None:
    hashes = {instance.key_hash, getattr(instance, "loaded_key_hash", "")} - {""}
    forget(*(integration_cache_key(sender, key_hash) for key_hash in hashes))
    instance.loaded_key_hash = instance.key_hash  # the next rotation of this instance
