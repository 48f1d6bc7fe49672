"""Domain errors raised by services; the web layer maps each to one HTTP status.

Services never import the web framework, so they speak in these terms instead.
"""


class DomainError(Exception):
    """Base: carries a human message, and the input field at fault where there is one."""

    status = 400
    extra: object = None  # details for the JSON answer (a 409's current state, the candidates to decide on)

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    """The input breaks a rule (missing, wrong type, out of range)."""

    status = 400


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    """The actor may not do this (wrong agency, wrong role)."""

    status = 403


class Conflict(DomainError):
    """A stale version or a state that no longer allows the change."""

    status = 409


class Unavailable(DomainError):
    """This server cannot do it as installed (a system library missing): the message says what to install."""

    status = 503


class CaseClosed(Conflict):
    """A write on a closed case: answered with this message alone, never with the page it came from
    (a closed case's page offers no form to show it beside)."""


def require_version(current: int, seen: int, what: str) -> None:
    """Refuse a change made on a stale view: someone else changed ``what`` meanwhile."""
    if current != seen:
        raise Conflict(f"{what} was changed by someone else meanwhile (you saw version {seen}, it is now "
                       f"version {current}); the current state is shown: check it and try again", field="version")
