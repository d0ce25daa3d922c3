"""The Selldone API boundary: the client, its transport and response classifier, the
rate limiter and the payload models.

May import: `errors`. Nothing of the other parts: the API knows no files, no journal.
"""

from filebridge.selldone.client import MAX_PAGE_SIZE, PAGE_OVERLAP, SelldoneClient
from filebridge.selldone.models import (
    FULFILMENT_SEQUENCE,
    FulfilmentState,
    Order,
    OrderItem,
    ReceiverInfo,
)
from filebridge.selldone.ratelimit import RateLimiter
from filebridge.selldone.transport import CallRecord, SendHook

__all__ = [
    "FULFILMENT_SEQUENCE",
    "MAX_PAGE_SIZE",
    "PAGE_OVERLAP",
    "CallRecord",
    "FulfilmentState",
    "Order",
    "OrderItem",
    "RateLimiter",
    "ReceiverInfo",
    "SelldoneClient",
    "SendHook",
]
