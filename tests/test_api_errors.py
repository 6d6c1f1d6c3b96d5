"""The one error shape, including for a database that is down."""

from django.db import OperationalError
from rest_framework import exceptions

from common.api_errors import exception_handler


def test_a_database_outage_is_503_with_retry_after_not_500():
    response = exception_handler(OperationalError("connection refused"), {})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.data["code"] == "unavailable" and set(response.data) == {
        "code",
        "message",
        "fields",
    }


def test_validation_errors_name_nested_fields():
    error = exceptions.ValidationError({"links": [{"href": ["Enter a valid URL."]}]})
    response = exception_handler(error, {})
    assert response.status_code == 400
    assert response.data["fields"] == {"links.0.href": ["Enter a valid URL."]}
    assert response.data["message"] == "links.0.href: Enter a valid URL."
