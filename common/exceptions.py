"""The one base class for domain errors. The API handler and the pages both know it."""


class DomainError(Exception):
    """A rule of the domain was broken. `status` and `code` tell the API how to answer."""

    status: int = 400
    code: str = "invalid"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
