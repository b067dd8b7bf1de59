"""The contract every event bus passes, as a class of tests to subclass with a ``make_bus`` fixture.

    class TestMyBus(BusContract):
        @pytest.fixture
        def make_bus(self) -> BusFactory:
            return MyBus  # MyBus(retain=...) makes a fresh, empty bus

It holds what :class:`~groupchat.bus.protocol.Bus` promises and nothing of how: stamping and
ordering (``bus_contract_publish``), subscribing, filtered reads, reads without waiting and
closing (``bus_contract_read``), back-pressure, stalls and trimming (``bus_contract_flow``),
appends of events stamped already (``bus_contract_append``). The tests use the protocol's
members only.
"""

from __future__ import annotations

from bus_contract_append import AppendContract
from bus_contract_flow import FlowContract
from bus_contract_publish import PublishContract
from bus_contract_read import ReadContract
from bus_support import BusFactory

__all__ = ["BusContract", "BusFactory"]


class BusContract(PublishContract, ReadContract, FlowContract, AppendContract):
    """Every test of the contract; a subclass gives the ``make_bus`` fixture."""
