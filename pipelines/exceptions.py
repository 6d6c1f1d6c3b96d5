"""Why an ingest request is refused. Each maps to one status and code in the error shape."""

from common.exceptions import DomainError


class UnknownKey(DomainError):
    """Missing or wrong key. Same answer whether or not the integration exists."""

    status = 401
    code = "unknown_key"

    def __init__(self) -> None:
        super().__init__("Missing or unknown integration key.")


class IntegrationDisabled(DomainError):
    status = 403
    code = "integration_disabled"

    def __init__(self) -> None:
        super().__init__("This integration is disabled; an admin can enable it in Settings.")


class BadSignature(DomainError):
    status = 401
    code = "bad_signature"


class SignatureRequired(BadSignature):
    """An integration that requires signed requests got one without its signature: the key
    alone is not enough (AuthMode.SIGNATURE)."""

    code = "signature_required"


class StaleTimestamp(BadSignature):
    code = "stale_timestamp"


class ReplayedSignature(BadSignature):
    code = "replayed"

    def __init__(self) -> None:
        super().__init__("This signed request was already received; a replay is refused.")


class BodyTooLarge(DomainError):
    status = 413
    code = "body_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The body is larger than the limit of {limit} bytes.")


class MalformedBody(DomainError):
    status = 400
    code = "malformed_json"


class MalformedHeader(DomainError):
    """A header no database could store (a NUL byte, a lone surrogate): refused, not cleaned,
    since a signature or key in it could not be trusted either."""

    status = 400
    code = "malformed_header"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"The {name} header holds a character that is not allowed (NUL or invalid Unicode).",
            fields={name: ["Remove NUL bytes and invalid Unicode."]},
        )


class RateLimited(DomainError):
    status = 429
    code = "throttled"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests for this integration; retry in {retry_after} s.")
        self.retry_after = retry_after


class TooManyUnknownKeys(RateLimited):
    """An address that keeps sending unknown keys: a misconfigured producer, or a guesser."""

    def __init__(self, retry_after: int) -> None:
        DomainError.__init__(
            self,
            "Too many requests with unknown keys from this address; "
            f"retry in {retry_after} s with a valid key.",
        )
        self.retry_after = retry_after


class SubscriptionNotConfirmed(DomainError):
    status = 502
    code = "subscription_not_confirmed"
