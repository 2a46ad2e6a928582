"""``[content] approval = true``: a delivered pack waits, staged, until a manager approves it in staff mode.

The agent runs in this process with nfcpy's UDP reader and Anna's emulated staff badge (a manager, from
``config/central-fixtures.example.yaml``), central's fixtures and the pack's manifest pushed over a real
Mosquitto, the pack served by Debian's nginx. The approval is a real ``request/content-approve`` in Anna's
staff session (badge, then PIN over ``request/staff-pin``), refused without one, and audited.
"""

from __future__ import annotations

import os
from pathlib import Path

from edge_agent import central_push
from edge_agent.agent import Agent
from edge_agent.credentials import Credentials
from edge_agent.nfc.emulator import CardEmulator, Type2Card, free_udp_port
from tests.support.cards import STAFF_UID
from tests.support.mqtt import envelope
from tests.test_content_delivery import Delivery

HMAC_KEY = os.urandom(32)
FIXTURES = Path(__file__).resolve().parents[1] / "config" / "central-fixtures.example.yaml"
ANNA_PIN = "2468"


class StaffDelivery(Delivery):
    """:class:`Delivery` with a reader, Anna's badge and central's staff records."""

    def start_agent(self) -> Agent:
        agent = Agent(self.config, Credentials({"CS_STORE_HMAC_KEY": HMAC_KEY.hex()}))
        agent.start()
        assert agent.link.wait_connected(10)
        return agent

    def request(self, command: str, data: dict, transaction: str) -> dict:
        topic = f"cs/v1/{self.store_id}/{self.config.device.id}/local/request/{command}"
        central_push.publish([central_push.Outgoing(command, topic, envelope(f"request-{command}/1", data,
                                                                             transaction=transaction), 1)],
                             "127.0.0.1", self.mosquitto.port)
        self.cap.wait_for(lambda _: any(m.json().get("transaction") == transaction
                                        for m in self.cap.on(f"/local/response/{command}")), timeout=30)
        return next(m.json() for m in self.cap.on(f"/local/response/{command}")
                    if m.json().get("transaction") == transaction)


def test_a_staged_pack_waits_for_a_managers_approval_in_staff_mode_which_is_audited(
        mosquitto, make_config, capture, tmp_path, nginx, cutting_proxy):
    reader = f"udp:127.0.0.1:{free_udp_port()}"
    emulator = CardEmulator(reader)
    world = StaffDelivery(mosquitto, make_config, capture, tmp_path, nginx, cutting_proxy,
                          prefix=f'[nfc]\ndevice = "{reader}"\npoll_interval_s = 0.02\n', extra="approval = true\n")
    try:
        outgoing = central_push.messages(central_push.load(FIXTURES, hmac_key=HMAC_KEY), world.store_id)
        central_push.publish(outgoing, "127.0.0.1", mosquitto.port)
        world.cap.wait_for(lambda _: world.agent.inbox.applied >= len(outgoing), timeout=30)

        world.publish_pack("winkel-1", 1)
        staged = world.wait_status(1, "staged")
        assert staged["awaiting_approval"] is True
        world.cap.wait_for(lambda _: world.cap.on("/local/content-active")
                           and world.content_active().staged is not None, timeout=30)
        view = world.content_active()
        assert view.active is None and view.staged.awaiting_approval is True
        assert not (world.packs_dir / "current").exists(), "not active before it is approved"

        refused = world.request("content-approve", {"session": "01a20735-b502-769a-a830-637530718552",
                                                    "pack": "winkel", "version": 1}, "t-no-staff")
        assert refused["status"] == "error" and "not in staff mode" in refused["error"]

        assert emulator.wait_for_reader(20), "the agent's reader never polled"
        emulator.hold(Type2Card(STAFF_UID))
        world.cap.wait_for(lambda _: any(m.json()["data"].get("outcome") == "staff"
                                         for m in world.cap.on("/local/session")), timeout=30)
        session = next(m.json()["data"]["session"] for m in world.cap.on("/local/session")
                       if m.json()["data"].get("outcome") == "staff")
        mode = world.request("staff-pin", {"session": session, "pin": ANNA_PIN}, "t-pin")
        assert mode["status"] == "ok" and mode["data"]["role"] == "manager", mode

        approved = world.request("content-approve", {"session": session, "pack": "winkel", "version": 1},
                                 "t-approve")
        assert approved["status"] == "ok" and approved["data"]["state"] == "active", approved
        world.wait_active(1)
        world.wait_status(1, "active")
        world.cap.wait_for(lambda _: any(m.json()["data"]["action"] == "content-approve"
                                         and m.json()["data"]["result"] == "ok"
                                         and m.json()["data"]["target"] == "winkel-1"
                                         for m in world.cap.on("/event/staff-audit")), timeout=30)
        again = world.request("content-approve", {"session": session, "pack": "winkel", "version": 1}, "t-again")
        assert again["status"] == "error" and "not staged" in again["error"]
    finally:
        emulator.close()
        world.close()
