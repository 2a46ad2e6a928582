"""A manager approves a delivered pack at the kiosk: the real agent (in this process, ``[content] approval =
true``) with nfcpy's UDP reader and Anna's emulated badge, the pack served by Debian's nginx, its signed manifest
pushed over a real Mosquitto, and the kiosk on Xvfb clicked with xdotool.

Inhoud offers "Goedkeuren en tonen" for the staged pack once Anna (a manager) is in staff mode; the click is
a ``request/content-approve``, after which the agent switches and the kiosk shows the pack's attract item.
A screenshot of the offer goes to ``tests/artifacts/screens/``.
"""

from __future__ import annotations

from tests.support.content_packs import content_section
from tests.support.kiosk import KioskProcess
from tests.test_content_control_e2e import World, tap
from tests.test_content_delivery import Delivery


class ApprovalWorld(World):
    """tests/test_content_control_e2e.py's world (agent, badge, fixtures, kiosk) with delivered packs."""

    def __init__(self, mosquitto, make_config, capture, xvfb, tmp_path, nginx):
        self.packs_dir = tmp_path / "packs"
        self.nginx = nginx
        original = make_config

        def delivered_config(broker, extra=""):
            extra = extra.split("[content]")[0] + content_section(self.packs_dir, "approval = true\n")
            return original(broker, extra=extra)

        super().__init__(mosquitto, make_config=delivered_config, capture=capture, xvfb=xvfb, tmp_path=tmp_path,
                         size="800x480")

    def start_kiosk(self) -> KioskProcess:
        self.kiosk_config.write_text(f'[content]\nfolder = "{self.packs_dir / "current"}"\ncheck_s = 1\n')
        return super().start_kiosk()


def test_a_manager_approves_the_staged_pack_on_inhoud_and_the_kiosk_then_shows_it(
        mosquitto, make_config, capture, xvfb, tmp_path, nginx):
    world = ApprovalWorld(mosquitto, make_config, capture, xvfb, tmp_path, nginx)
    try:
        # The manifest, as tests/test_content_delivery.py pushes it (the pack served straight by nginx).
        delivery = Delivery.__new__(Delivery)
        delivery.tmp, delivery.nginx, delivery.mosquitto = tmp_path, nginx, mosquitto
        delivery.proxy, delivery.store_id, delivery.cap = nginx, world.config.store.id, world.cap
        delivery.publish_pack("winkel-1", 1, pack={"caption": "Goedgekeurd pack"})
        staged = delivery.wait_status(1, "staged")
        assert staged["awaiting_approval"] is True

        world.staff_mode()
        tap(world.kiosk, "staff-inhoud")
        status = world.kiosk.wait_screen("inhoud", "Nieuw pack wacht op goedkeuring", "winkel 1", timeout=30)
        world.kiosk.keep(status, "inhoud-approve-800x480")
        tap(world.kiosk, "inhoud-approve")
        delivery.wait_status(1, "active")
        assert (world.packs_dir / "current").resolve() == world.packs_dir / "packs" / "winkel-1"
        audits = world.audits("content-approve")
        assert audits and audits[-1]["result"] == "ok" and audits[-1]["target"] == "winkel-1"
        world.kiosk.wait_screen("inhoud", "Gedaan.", timeout=30)
        tap(world.kiosk, "klaar")
        world.kiosk.wait_screen("bereik", "Goedgekeurd pack", timeout=30)  # the new pack's attract item
    finally:
        world.close()
