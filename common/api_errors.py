"""One JSON error shape for the whole API: {"code", "message", "fields"}."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.exceptions import DomainError

DATABASE_RETRY_AFTER_SECONDS = 5


class ErrorSerializer(serializers.Serializer):
    """The one error shape, for the OpenAPI schema."""

    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF nests errors by field (and by list index); we name each field by its dotted path."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = str(key) if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors" and not prefix:
                name = "body"
            flat.update(flatten_errors(value, name))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "body": [str(item) for item in detail]}
        flat = {}
        for index, item in enumerate(detail):
            flat.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "body": [str(detail)]}


def _validation_message(fields: dict[str, list[str]]) -> str:
    name, errors = next(iter(fields.items()))
    message = f"{name}: {errors[0]}"
    if len(fields) > 1:
        message += f" (and {len(fields) - 1} more)"
    return message


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Map domain errors and every DRF exception to the one error shape."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is restarting or unreachable: nothing was committed, so say "retry",
        # never a 500 and never a 2xx.
        message = "The database is unavailable; nothing was stored. Retry shortly."
        response = Response(error_body("unavailable", message), status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        response.data = error_body("invalid", _validation_message(fields), fields)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else exc.default_detail
        # DRF has already set Retry-After on 429 and WWW-Authenticate on 401.
        response.data = error_body(exc.default_code, str(message))
    return response
