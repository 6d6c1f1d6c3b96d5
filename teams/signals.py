"""Every web process re-reads the component catalog once a component or alias changes."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from teams.components import forget_catalog
from teams.models import Component, ComponentAlias


@receiver(post_save, sender=Component)
@receiver(post_save, sender=ComponentAlias)
@receiver(post_delete, sender=Component)
@receiver(post_delete, sender=ComponentAlias)
def catalog_changed(sender: type, **kwargs: Any) -> None:
    forget_catalog()
