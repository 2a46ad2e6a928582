"""The device's own checks in staff mode (issue 14, point 6): the figures of the kiosk's device-checks
screen, measured by the agent, the reader test, the managers' test event upstream and the kiosk restart.
Who may ask is the staff mode's to say (:mod:`edge_agent.staff`: its gate and its audit).

One concept per module:

- :mod:`.service`: :class:`DeviceChecks`, the four local requests and the report they answer with;
- :mod:`.reader_test`: "tap a card to test the reader" (the next tap is a test, not a session);
- :mod:`.camera_check`: frames per second, presence, the last code, the privacy masks;
- :mod:`.clock`: this clock against central's (from the ``ts`` of live pushes) and the kernel's sync state;
- :mod:`.upstream_test`: ``event/device-test`` through the outbox, and when the broker had it;
- :mod:`.versions`: the agent's, the contract's, Python's and the key libraries' versions.

The contract of its messages is :mod:`edge_agent.contract.payloads_device_checks`.
"""

from __future__ import annotations

from .camera_check import CameraCheckSource
from .clock import CentralClock
from .reader_test import ReaderTest
from .service import KIOSK_RESTART_EXIT, DeviceChecks

__all__ = ["KIOSK_RESTART_EXIT", "CameraCheckSource", "CentralClock", "DeviceChecks", "ReaderTest"]
