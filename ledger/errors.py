"""Typed business errors. Resolvers map each to a `UserError` code (one function)."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_OWNS_ACCOUNT = "ALREADY_OWNS_ACCOUNT"
    LAST_OWNER = "LAST_OWNER"
    INVALID_CODE = "INVALID_CODE"
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    NOT_PENDING = "NOT_PENDING"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    INVALID_PROMO_CODE = "INVALID_PROMO_CODE"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    COURSE_UNAVAILABLE = "COURSE_UNAVAILABLE"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INTERNAL = "INTERNAL"


_BY_CODE: dict[ErrorCode, type[LedgerError]] = {}


class LedgerError(Exception):
    """A rule said no. `field` names the offending input, as a path.

    Each subclass names its code (`class NotFound(LedgerError, code=...)`), which also
    makes it the class `from_dict` gives back for that code.
    """

    code: ErrorCode = ErrorCode.INVALID_INPUT
    # Business outcomes that an idempotency record keeps and replays.
    replayable: bool = False

    def __init_subclass__(cls, *, code: ErrorCode, replayable: bool = False) -> None:
        super().__init_subclass__()
        cls.code, cls.replayable = code, replayable
        _BY_CODE[code] = cls

    def __init__(self, message: str, *, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code.value, "message": self.message, "field": self.field}

    @staticmethod
    def from_dict(data: dict[str, object]) -> LedgerError:
        code = ErrorCode(str(data["code"]))
        error = _BY_CODE.get(code, LedgerError)(str(data["message"]))
        error.code = code
        field = data.get("field")
        error.field = [str(f) for f in field] if isinstance(field, list) else None
        return error


class InvalidInput(LedgerError, code=ErrorCode.INVALID_INPUT): ...


class Forbidden(LedgerError, code=ErrorCode.FORBIDDEN): ...


class NotFound(LedgerError, code=ErrorCode.NOT_FOUND): ...


class AlreadyOwnsAccount(LedgerError, code=ErrorCode.ALREADY_OWNS_ACCOUNT): ...


class LastOwner(LedgerError, code=ErrorCode.LAST_OWNER): ...


class InvalidCode(LedgerError, code=ErrorCode.INVALID_CODE): ...


class InsufficientCredits(LedgerError, code=ErrorCode.INSUFFICIENT_CREDITS, replayable=True): ...


class NotPending(LedgerError, code=ErrorCode.NOT_PENDING): ...


class PaymentDeclined(LedgerError, code=ErrorCode.PAYMENT_DECLINED, replayable=True): ...


class InvalidPromoCode(LedgerError, code=ErrorCode.INVALID_PROMO_CODE): ...


class IdempotencyConflict(LedgerError, code=ErrorCode.IDEMPOTENCY_CONFLICT): ...


class RateLimited(LedgerError, code=ErrorCode.RATE_LIMITED): ...


class CourseUnavailable(LedgerError, code=ErrorCode.COURSE_UNAVAILABLE): ...
