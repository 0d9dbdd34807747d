"""Errors that end a run before it can produce a verdict (exit code 2).

A failed expectation is not an error: it is a verdict in the record (exit code 1).
"""

from exitkit.redaction import scrub


class ExitkitError(Exception):
    """Base of all errors shown to the user as one line; the text is scrubbed of secrets."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(scrub(message))


class SpecError(ExitkitError):
    """A drill spec that cannot be read or validated; names file, line and field."""

    def __init__(self, path: str, line: int | None, field: str | None, problem: str) -> None:
        where = f"{path}:{line}" if line else path
        what = f"{field}: {problem}" if field else problem
        super().__init__(f"{where}: {what}")


class EndpointError(ExitkitError):
    """An endpoint that cannot be reached or refuses the drill; names the endpoint."""

    def __init__(self, endpoint: str, problem: str) -> None:
        super().__init__(f"{endpoint}: {problem}")


class TransientError(Exception):
    """A failure worth retrying (throttling, 5xx, connection reset, timeout).

    ``retry_after`` is the wait in seconds the server asked for (Retry-After), if any.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """A failure that retrying will not fix (403, 404, bad credentials, refused request)."""


class UnreadableError(PermanentError):
    """An object the source holds but will not hand over as it is, with the verification
    class that names why (``archived``, ``sse_c_key_required``, ``requester_pays``,
    ``kms_access_denied``) and a reason that names the remedy."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
