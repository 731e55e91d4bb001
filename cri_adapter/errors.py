"""The adapter's one exception family: each error carries its gRPC status code.

A servicer raises these; the server turns one into the status code and its
one-line message (`server.py`), so kubelet and crictl see NotFound for a pod that
is gone, InvalidArgument for a bad request, and so on, never a crash.
"""
from __future__ import annotations


class CRIError(Exception):
    """``code``: the name of a grpc.StatusCode (kept as a string so this module imports no grpc)."""

    code = "INTERNAL"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(CRIError):
    code = "NOT_FOUND"


class InvalidArgument(CRIError):
    code = "INVALID_ARGUMENT"


class AlreadyExists(CRIError):
    code = "ALREADY_EXISTS"


class FailedPrecondition(CRIError):
    code = "FAILED_PRECONDITION"


class DeadlineExceeded(CRIError):
    code = "DEADLINE_EXCEEDED"


class Unavailable(CRIError):
    code = "UNAVAILABLE"


class Internal(CRIError):
    code = "INTERNAL"
