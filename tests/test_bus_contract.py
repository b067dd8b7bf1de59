"""The in-process EventBus passes the bus contract."""

from __future__ import annotations

import pytest
from bus_contract import BusContract, BusFactory

from groupchat.bus import EventBus


class TestEventBus(BusContract):
    @pytest.fixture
    def make_bus(self) -> BusFactory:
        return EventBus
