"""What every ingest endpoint does before and after its producer-specific part.

read the body (413) → find the integration by its key in the path, an Authorization: Bearer
header, or the body (401/403) → rate limit (429) → parse JSON (400) → the endpoint's own
`ingest` → one delivery record. Errors come back in the one JSON error shape, never a 500.

One round trip to the cache finds the integration, counts the request against its rate limit
and reads what else the request needs (the component catalog's version, whether the
integration's last event was noted lately). An endpoint may store the delivery record with its
event, in the same statement (`delivery_for`); otherwise it is stored after the answer is
decided.
"""

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, connection
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from redis.exceptions import RedisError
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from structlog import get_logger

from common import metrics
from common.api_errors import ErrorSerializer, error_body
from common.cache import claim, read_ahead, read_and_count, read_through
from common.exceptions import DomainError
from common.middleware import for_machines
from common.tokens import hash_token
from pipelines.deliveries import delivery_record, delivery_stored
from pipelines.exceptions import (
    BodyTooLarge,
    IntegrationDisabled,
    MalformedBody,
    MalformedHeader,
    RateLimited,
    UnknownKey,
)
from pipelines.models import Delivery, Integration
from pipelines.signatures import verify_request
from pipelines.throttling import check_rate, rate_counter, unknown_key_refusal
from teams.components import CATALOG_VERSION

logger = get_logger(__name__)

LAST_EVENT_PRECISION = timedelta(seconds=10)
# A safety net: every change to an integration drops its cached lookup at once (signals.py).
INTEGRATION_CACHE_SECONDS = 60
INGEST_RENDERER = JSONRenderer()


@dataclass(frozen=True)
class KeyLookup:
    """An integration found by its key, and what the same round trip to the cache told."""

    integration: Integration
    counted: int | None = None  # this request's count in the rate window, when counted
    catalog_version: Any = None  # teams.components.CATALOG_VERSION, when it was read
    last_event_noted: bool = False  # someone noted last_event_at within LAST_EVENT_PRECISION


@dataclass(frozen=True)
class IngestResult:
    """What an endpoint's `ingest` did, for the response and the delivery log."""

    status_code: int
    data: dict[str, Any]
    outcome: str  # Delivery.Outcome
    event_type: str = ""
    reason: str = ""
    object_id: int | None = None


class IngestApi(APIView):
    """Base class of the ingest endpoints. Subclasses set `integration_model` and `ingest`.

    POST is the ingest, authenticated by the integration's key (in the path, a header or the
    body: see `post`). Other methods of the same URL are a read API for people, authenticated
    by `read_authentication_classes`.
    """

    parser_classes = ()  # we read the raw bytes: signatures are computed over them
    read_authentication_classes: ClassVar[tuple] = tuple(
        api_settings.DEFAULT_AUTHENTICATION_CLASSES
    )
    read_permission_classes: ClassVar[tuple] = (IsAuthenticated,)
    integration_model: ClassVar[type[Integration]]
    # For producers that put the key in the body (PagerDuty's routing_key, ilert's integrationKey).
    body_key_field: ClassVar[str] = ""

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        # Producers POST; people read with GET, through the middleware that serves them.
        return for_machines(super().as_view(**initkwargs), methods=("POST",))

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        started = time.perf_counter()
        self.integration: Integration | None = None
        self.outcome = "unavailable"  # until post() decides: a database error skips it
        response = super().dispatch(request, *args, **kwargs)
        if request.method == "POST":
            metrics.observe_ingest(
                integration=self.integration_model._meta.model_name,
                kind=self.integration.kind if self.integration else "unknown",
                outcome=self.outcome if response.status_code < 500 else "unavailable",
                status=response.status_code,
                seconds=time.perf_counter() - started,
            )
        return response

    def post(self, request: Request, key: str = "") -> Response:
        received_at = timezone.now()
        integration: Integration | None = None
        found: KeyLookup | None = None
        body = b""
        payload: Any = None
        event_type = ""
        self._draft: Delivery | None = None
        try:
            check_headers(request._request)
            body = read_body(request._request)
            found = self._integration_from(request, key)
            if found is not None:
                integration = found.integration
                signature = admit(integration, request, body, received_at, found.counted)
            payload = parse_json(body)
            if found is None:
                found = self._integration_from_body(payload)
                integration = found.integration
                signature = admit(integration, request, body, received_at, found.counted)
            event_type = self.event_type(request, payload)
            # For delivery_for: every key the request carried, which the log keeps out.
            self._delivery_context = (
                integration,
                received_at,
                event_type,
                body,
                (key, bearer_key(request), self._body_key(payload)),
            )
            version = found.catalog_version
            with read_ahead({} if version is None else {CATALOG_VERSION: version}):
                result = self.ingest(
                    request=request,
                    integration=integration,
                    payload=payload,
                    body=body,
                    received_at=received_at,
                    signature=signature,
                )
        except DomainError as error:
            self._draft = None  # stored with a write that was rolled back, if at all
            # Unknown keys count against the client's address: 429 past a limit.
            refusal = (
                unknown_key_refusal(request._request) if isinstance(error, UnknownKey) else error
            )
            result = IngestResult(
                status_code=refusal.status,
                data=error_body(refusal.code, refusal.message, refusal.fields),
                outcome=Delivery.Outcome.REJECTED,
                event_type=event_type,
                reason=refusal.message,
            )
            response = Response(result.data, status=result.status_code)
            if isinstance(refusal, RateLimited):
                response["Retry-After"] = str(refusal.retry_after)
            if isinstance(refusal, UnknownKey):
                response["WWW-Authenticate"] = 'Bearer realm="ingest"'
        else:
            response = Response(result.data, status=result.status_code)
        self.integration, self.outcome = integration, result.outcome
        if integration is not None:
            # Every key the request carried: the log keeps out whichever is this integration's.
            keys = (key, bearer_key(request), self._body_key(payload))
            stored = self._draft if self._draft is not None and self._draft.pk else None
            noted = found is not None and found.last_event_noted
            _log_delivery(
                integration, result, received_at, event_type, body, keys, stored, noted=noted
            )
        return response

    def delivery_for(self, result: IngestResult) -> Delivery:
        """The delivery record of this request should `result` be its answer, unsaved, for
        `ingest` to store with its event in one statement (common.rows.insert_rows), linking
        its object_id. Once stored, the request stores no other; if not, or if `ingest` raises
        after all, the record of what it answered is stored as usual."""
        self._draft = _delivery_of(result, *self._delivery_context)
        return self._draft

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple:
        if self._is_ingest():  # producers get JSON, whatever they accept: no negotiation
            return INGEST_RENDERER, INGEST_RENDERER.media_type
        return super().perform_content_negotiation(request, force)

    def get_authenticators(self) -> list:
        if self._is_ingest():
            return []
        return [authenticator() for authenticator in self.read_authentication_classes]

    def get_permissions(self) -> list:
        return (
            []
            if self._is_ingest()
            else [permission() for permission in self.read_permission_classes]
        )

    def _is_ingest(self) -> bool:
        # drf-spectacular asks without a request; the schema then shows the read side.
        return getattr(self.request, "method", "GET") == "POST"

    def event_type(self, request: Request, payload: Any) -> str:
        """The producer's event type, for the delivery log even when the request fails."""
        return ""

    def ingest(
        self,
        *,
        request: Request,
        integration: Integration,
        payload: Any,
        body: bytes,
        received_at: datetime,
        signature: str,
    ) -> IngestResult:
        """`signature`: a timestamped one verify_request checked, for the endpoint to remember
        against replays in the transaction that writes ("" when there is none)."""
        raise NotImplementedError

    def _integration_from(self, request: Request, path_key: str) -> KeyLookup | None:
        """By the key in the path or header; None when this endpoint reads it from the body."""
        key = path_key or bearer_key(request)
        if not key and self.body_key_field:
            return None
        return look_up_integration(self.integration_model, key)

    def _body_key(self, payload: Any) -> str:
        value = payload.get(self.body_key_field) if isinstance(payload, Mapping) else None
        return value if self.body_key_field and isinstance(value, str) else ""

    def _integration_from_body(self, payload: Any) -> KeyLookup:
        key = payload.get(self.body_key_field) if isinstance(payload, Mapping) else None
        return look_up_integration(self.integration_model, key if isinstance(key, str) else "")


def _delivery_of(
    result: IngestResult,
    integration: Integration,
    received_at: datetime,
    event_type: str,
    body: bytes,
    keys: tuple[str, ...],
) -> Delivery:
    """The delivery record of a request answered with `result`, unsaved."""
    return delivery_record(
        integration=integration,
        received_at=received_at,
        event_type=result.event_type or event_type,
        status_code=result.status_code,
        outcome=result.outcome,
        reason=result.reason,
        body=body,
        object_id=result.object_id,
        keys=keys,
    )


def _log_delivery(
    integration: Integration,
    result: IngestResult,
    received_at: datetime,
    event_type: str,
    body: bytes,
    keys: tuple[str, ...],
    stored: Delivery | None,
    *,
    noted: bool,
) -> None:
    """Bookkeeping after the answer is decided: the delivery record unless `stored` with the
    event already, and when the integration last delivered something unless that was `noted`
    lately. The event is committed by now: a database that goes away at this instant must not
    turn its 2xx into an error (the producer would send it again), so a failure here is
    logged and the answer stands."""
    try:
        if result.outcome == Delivery.Outcome.ACCEPTED and not noted:
            touch_last_event(integration, received_at)
        if stored is None:
            stored = _delivery_of(result, integration, received_at, event_type, body, keys)
            stored.save(force_insert=True)
        delivery_stored(stored, integration)
    except DatabaseError as error:
        logger.warning("delivery not logged", integration=integration.pk, error=str(error))


def admit(
    integration: Integration,
    request: Request,
    body: bytes,
    received_at: datetime,
    counted: int | None = None,
) -> str:
    """Refuse a disabled integration (403), one over its rate limit (429), and a request without
    the signature its authentication mode requires (401, pipelines.signatures.verify_request:
    the one check, whichever endpoint and wherever the key was). Returns the signature to
    remember against replays, or "". `counted`: the request's count in its rate window, when
    the lookup counted it.

    Called once the integration is known, so the refusal lands in its delivery log.
    """
    if not integration.enabled:
        raise IntegrationDisabled()
    check_rate(integration, counted)
    return verify_request(
        integration=integration, headers=request.headers, body=body, now=received_at
    )


def touch_last_event(integration: Integration, at: datetime) -> None:
    """Note when the integration last delivered something, at most every few seconds.

    Outside the ingest transaction, and only by the first request of each period (a cache
    entry tells, which the key lookup reads ahead): under load, every request updating the
    same row would queue them all behind its lock.
    """
    period = int(LAST_EVENT_PRECISION.total_seconds())
    if claim(last_event_flag(type(integration), integration.key_hash), period):
        stale = Q(last_event_at__isnull=True) | Q(last_event_at__lt=at - LAST_EVENT_PRECISION)
        type(integration).objects.filter(stale, pk=integration.pk).update(last_event_at=at)


def ingest_schema(operation_id: str, answer: type[Serializer], **extra: Any) -> Any:
    """The OpenAPI description of an ingest endpoint's POST, as a class decorator."""
    responses = {202: answer, 200: answer}
    responses |= dict.fromkeys((400, 401, 403, 413, 429), ErrorSerializer)
    return extend_schema_view(
        post=extend_schema(
            operation_id=operation_id, request=OpenApiTypes.OBJECT, responses=responses, **extra
        )
    )


def bearer_key(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def find_integration(model: type[Integration], key: str) -> Integration:
    """The integration whose key this is, by its hash: cached, else an indexed lookup.

    Raises UnknownKey, with the same answer whether or not any integration exists. Unknown keys
    are not cached (anyone can send them); known ones until the integration changes.
    """
    integration = None
    if key and len(key) <= 500:
        key_hash = hash_token(key)
        integration = read_through(
            integration_cache_key(model, key_hash),
            lambda: model.objects.select_related("team").filter(key_hash=key_hash).first(),
            timeout=INTEGRATION_CACHE_SECONDS,
        )
    if integration is None:
        raise UnknownKey()
    return integration


def look_up_integration(model: type[Integration], key: str) -> KeyLookup:
    """find_integration, in the same round trip to the cache as counting the request against
    the integration's rate limit and reading the catalog version and last-event flag.

    Raises UnknownKey as find_integration does. With the cache unreachable, the database
    answers and nothing is counted (as check_rate without a cache)."""
    if not key or len(key) > 500:
        raise UnknownKey()
    key_hash = hash_token(key)
    cache_key = integration_cache_key(model, key_hash)
    counter, timeout = rate_counter(model, key_hash)
    try:
        (integration, version, noted), counted = read_and_count(
            [cache_key, CATALOG_VERSION, last_event_flag(model, key_hash)], counter, timeout
        )
    except (RedisError, OSError):
        logger.warning("cache unreachable: looking the key up in the database")
        return KeyLookup(_integration_by_hash(model, key_hash))
    if integration is None:
        integration = _integration_by_hash(model, key_hash)
        if not connection.in_atomic_block:  # as read_through: no rows a rollback takes back
            try:
                cache.set(cache_key, integration, INTEGRATION_CACHE_SECONDS)
            except (RedisError, OSError):
                logger.warning("cache unreachable: %s not cached", cache_key)
    return KeyLookup(integration, counted, version, noted is not None)


def _integration_by_hash(model: type[Integration], key_hash: str) -> Integration:
    integration = model.objects.select_related("team").filter(key_hash=key_hash).first()
    if integration is None:
        raise UnknownKey()
    return integration


def integration_cache_key(model: type[Integration], key_hash: str) -> str:
    return f"integration:{model._meta.label_lower}:{key_hash}"


def last_event_flag(model: type[Integration], key_hash: str) -> str:
    """Set for LAST_EVENT_PRECISION once a request noted the integration's last_event_at."""
    return f"last-event:{model._meta.label_lower}:{key_hash}"


def check_headers(request: HttpRequest) -> None:
    """Refuse headers that carry NUL bytes or lone surrogates (MalformedHeader): event types,
    idempotency keys and signatures are read from headers and stored."""
    for name, value in request.headers.items():
        if "\x00" in value or not _encodable(value):
            raise MalformedHeader(name[:100])


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_body(request: HttpRequest) -> bytes:
    """The raw body, refused with 413 past INGEST_MAX_BODY_BYTES before it is read whole."""
    limit = settings.INGEST_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BodyTooLarge(limit)
    try:
        body = request.body
    except RequestDataTooBig:  # no Content-Length, and Django's own limit tripped
        raise BodyTooLarge(limit) from None
    if len(body) > limit:
        raise BodyTooLarge(limit)
    return body


def parse_json(body: bytes) -> Any:
    """The body as JSON, whatever the Content-Type says (SNS sends text/plain).

    NUL characters and lone surrogates are dropped: no database can store them, and they carry
    no meaning in a change or an alert.
    """
    if not body.strip():
        raise MalformedBody("The body is empty; send a JSON object.")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MalformedBody(f"The body is not valid UTF-8 (byte {error.start}).") from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
        # Strict UTF-8 and strict JSON strings carry neither as such: only a \u escape can
        # make one, so a body without any needs no walk through every string.
        return _clean(document) if "\\u" in text else document
    except RecursionError:
        raise MalformedBody("The JSON is nested too deeply.") from None
    except ValueError as error:
        raise MalformedBody(f"Malformed JSON: {error}") from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {_clean_text(key): _clean(item) for key, item in value.items()}
    return value


def _clean_text(text: str) -> str:
    text = text.replace("\x00", "")
    return text if _encodable(text) else text.encode("utf-8", "replace").decode("utf-8")
