"""SlaMonitorFunction: every minute, escalate open cases whose SLA clock ran out (once each)."""

from __future__ import annotations

from typing import Any

from socialcare.config.settings import SlaMonitorSettings, load
from socialcare.domain.cases.sla_monitor import SlaMonitor
from socialcare.flows.wiring import Wiring


class SlaMonitorRun:
    def __init__(self, monitor: SlaMonitor) -> None:
        self.monitor = monitor

    def handle(self, event: Any = None, context: Any = None) -> dict[str, Any]:
        return self.monitor.run()


def build() -> SlaMonitorRun:
    """SlaMonitorFunction's flow, its settings validated at cold start."""
    return SlaMonitorRun(Wiring(load(SlaMonitorSettings)).check_rules().sla_monitor)
