"""A delivered pack on the kiosk, end to end: central's signed manifest to the real agent (fetched from Debian's
nginx, verified, validated, activated), the retained ``content-active`` to the real kiosk under Xvfb, which
shows the new pack without a background-only frame and answers ``content-loaded``; a new pack the kiosk cannot
show (its picture does not decode: the agent's validation reads the manifest, not the pixels) is reported
failed, the agent brings the previous pack back, and the kiosk never stopped showing it.

Every frame is read back by the kiosk's frame recorder (:mod:`kiosk.frame_recorder`).
"""

from __future__ import annotations

from pathlib import Path

from tests.support.attract_pack import around, attract_pack, background_only, frames, transitions
from tests.support.content_packs import serve, signed
from tests.support.kiosk import KioskProcess
from tests.test_content_delivery import Delivery


def deliver(world: Delivery, folder: Path, version: int) -> None:
    """Serve the pack in ``folder`` and push its signed manifest as central (release ``version``)."""
    served = serve(folder, world.nginx.root, folder.name)
    world.push(signed(served, version, f"{world.proxy.base_url}/{folder.name}"))


def test_a_delivered_pack_shows_without_a_gap_and_one_the_kiosk_cannot_show_brings_the_shown_one_back(
        mosquitto, make_config, capture, tmp_path, nginx, cutting_proxy, xvfb):
    world = Delivery(mosquitto, make_config, capture, tmp_path, nginx, cutting_proxy)
    own = attract_pack(tmp_path / "own", "1", caption="Eerste")  # the shop's own folder pack, before central
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[content]\nfolder = "{own}"\ncheck_s = 1\n')
    record = tmp_path / "frames.jsonl"
    kiosk = KioskProcess(xvfb, mosquitto.port, world.store_id, world.config.device.id, tmp_path / "kiosk",
                         args=("--config", str(config), "--frame-record", str(record)))
    try:
        kiosk.start(timeout=60)
        kiosk.wait_screen("bereik", "Eerste", timeout=30)

        deliver(world, attract_pack(tmp_path / "authoring" / "gapless-2", "2", caption="Tweede", images=2,
                                    videos=1), 2)
        world.wait_status(2, "active", timeout=90)
        status = kiosk.wait(lambda s: s["content"]["version"] == "2", timeout=60)
        assert status["content"]["switch"] == {"pack": "gapless", "version": 2, "ok": True, "reason": None}
        shown = kiosk.wait_screen("bereik", "Tweede", timeout=30)
        assert Path(world.content_active().active.path).resolve() == world.current()
        before = shown["attract"]["shows"]

        broken = attract_pack(tmp_path / "authoring" / "gapless-3", "3", caption="Derde", images=1, videos=0)
        (broken / "attract" / "beeld-0.png").write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
        deliver(world, broken, 3)
        failed = world.wait_status(3, "failed", timeout=90)
        assert "beeld-0.png: cannot decode" in failed["reason"], failed
        assert world.wait_active(2).active.version == 2  # the agent brought the shown pack back
        status = kiosk.wait(lambda s: s["attract"]["shows"] >= before + 3, timeout=60)  # and the loop went on
        assert status["content"]["version"] == "2" and status["content"]["switch"]["ok"] is False
        assert kiosk.shows(kiosk.wait_screen("bereik", "Tweede", timeout=30), "Tweede")
        assert "not used (keeping gapless 2)" in kiosk.log()
    finally:
        assert kiosk.stop() == 0, kiosk.log()[-3000:]
        world.close()
    recorded = frames(record)
    swaps = transitions(recorded)
    assert [frame for frame in swaps if frame["pack"] == "gapless 2"], "no transition of the delivered pack"
    blank = background_only(recorded)
    assert blank == [], f"{len(blank)} background-only frames:\n{around(recorded, blank)}"
