"""The ceiling: the least an ingest endpoint can do on this machine.

A minimal DRF view that validates the same change body with the same adapter and inserts the
same row in autocommit, with no key lookup, idempotency, delivery record or hand-off. Served by
the same gunicorn settings; every ingest figure is also printed as a fraction of it.
"""

import json

from django.urls import path
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from changes.adapters import generic
from changes.models import ChangeEvent
from teams.components import normalise_component_name


class CeilingApi(APIView):
    authentication_classes = ()
    permission_classes = ()
    parser_classes = ()

    def post(self, request: Request) -> Response:
        change = generic.to_canonical(json.loads(request.body), request.headers)
        now = timezone.now()
        event = ChangeEvent.objects.create(
            occurred_at=change.occurred_at or now,
            received_at=now,
            component=normalise_component_name(change.component),
            environment=change.environment,
            kind=change.kind,
            outcome=change.outcome,
            summary=change.summary,
            description=change.description,
            triggered_by=change.triggered_by,
            version=change.version,
            commit=change.commit,
            metadata=dict(change.metadata),
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        return Response({"id": event.pk}, status=202)


urlpatterns = [path("ceiling", CeilingApi.as_view())]
