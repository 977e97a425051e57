"""Errors the domain raises; plain Python, so domain modules can use them without Flask.

The HTTP layer turns each into an RFC 9457 problem with a stable `type` slug.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class NotFound(DomainError):
    status = 404
    slug = "not-found"
    title = "Not found"


class InvalidTransition(DomainError):
    """A state change not allowed from the entity's current state."""

    status = 409
    slug = "invalid-transition"
    title = "Invalid state transition"


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class ValidationFailed(DomainError):
    """Input that is well-formed but refers to something unknown or contradicts itself."""

    status = 422
    slug = "validation"
    title = "Validation failed"

    @classmethod
    def field(cls, name: str, message: str) -> ValidationFailed:
        return cls(f"{name}: {message}", errors={name: [message]})


class Forbidden(DomainError):
    """The caller is known but may not do this (as opposed to a resource it may not see, a NotFound)."""

    status = 403
    slug = "forbidden"
    title = "Not allowed"
