"""Things that happened in the domain and that other parts of the system react to."""

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class OrderPlaced:
    order_id: UUID


@dataclass(frozen=True)
class OrderConfirmed:
    order_id: UUID


Event = OrderPlaced | OrderConfirmed
