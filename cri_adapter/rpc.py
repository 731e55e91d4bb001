"""What every servicer method shares: errors become gRPC status codes, never a crash."""
from __future__ import annotations

import functools
import logging

import grpc

from .errors import CRIError

log = logging.getLogger("pyruntime-cri")


def handler(fn):
    """Wrap a servicer method: a CRIError is its status code and one line; anything else is INTERNAL."""
    @functools.wraps(fn)
    async def wrapper(self, request, context):
        try:
            return await fn(self, request, context)
        except CRIError as exc:
            log.info("%s: %s: %s", fn.__name__, exc.code, exc)
            await context.abort(getattr(grpc.StatusCode, exc.code), str(exc))
        except (grpc.aio.AbortError, grpc.aio.UsageError):
            raise
        except Exception as exc:  # a bug: the server keeps serving, the caller gets one line
            log.exception("%s failed", fn.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, f"{fn.__name__}: {type(exc).__name__}: {exc}")
    return wrapper


def labels_match(selector, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())
