"""Content packs from central, end to end in the agent: a signed manifest pushed over a real Mosquitto, the pack
fetched from Debian's nginx (through a proxy that can cut and refuse), verified, validated with the kiosk's own
pack validation, staged and switched to; every refusal and failure reported with its reason while the last good
pack stays active.

The agent runs in this process on a real database; the kiosk's side of a switch is the ``current`` link and the
retained ``local/content-active`` (the kiosk itself loading and showing the pack is tests/test_kiosk_pack_switch*,
gapless15's), and the kiosk's answer is a real ``request/content-loaded`` over MQTT.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent import central_push
from edge_agent.agent import Agent
from edge_agent.content_delivery.publishing import file_entry
from edge_agent.contract import BIRTH, HEALTH, PUSHES, decode, encode
from edge_agent.contract.catalogue import CONTENT_ACTIVE
from edge_agent.contract.payloads_content_delivery import ContentActivePayload
from tests.support.content_packs import KEY, KEY_ID, STRANGER, content_section, serve, signed, write_pack
from tests.support.mqtt import Capture, envelope


class Delivery:
    """The agent with delivered packs, the web server behind the proxy, and the capture of every message."""

    def __init__(self, mosquitto, make_config, capture, tmp_path: Path, nginx, proxy, extra: str = "",
                 download: str = "", prefix: str = ""):
        self.tmp, self.nginx, self.proxy, self.mosquitto = tmp_path, nginx, proxy, mosquitto
        self.packs_dir = tmp_path / "packs"
        _, self.config = make_config(mosquitto, extra=prefix + content_section(self.packs_dir, extra, download))
        self.store_id = self.config.store.id
        self.cap = capture(mosquitto, ["cs/#"])
        self.agent = self.start_agent()

    def start_agent(self) -> Agent:
        agent = Agent(self.config)
        agent.start()
        assert agent.link.wait_connected(10)
        return agent

    def restart_agent(self) -> None:
        self.agent.stop()
        self.agent = self.start_agent()

    def publish_pack(self, name: str, version: int, **options) -> dict:
        """Write a pack, serve it as ``name``, push its signed manifest (release ``version``); the manifest."""
        folder = serve(write_pack(self.tmp / "authoring" / name, version=str(version), **options.pop("pack", {})),
                       self.nginx.root, name)
        manifest = signed(folder, version, f"{self.proxy.base_url}/{name}", **options)
        self.push(manifest)
        return manifest

    def push(self, manifest: dict) -> str:
        """Publish ``manifest`` on the store's content-pack topic as central; the message id."""
        message_id, payload = encode(PUSHES["content-pack"], manifest)
        central_push.publish([central_push.Outgoing("content-pack", PUSHES["content-pack"].topic_for(self.store_id),
                                                    payload, 1)], "127.0.0.1", self.mosquitto.port)
        return message_id

    def statuses(self, version: int) -> list[dict]:
        return [m.json()["data"] for m in self.cap.on("/event/content-status")
                if m.json()["data"]["version"] == version]

    def wait_status(self, version: int, state: str, timeout: float = 60) -> dict:
        self.cap.wait_for(lambda _: any(s["state"] == state for s in self.statuses(version)), timeout=timeout)
        return next(s for s in self.statuses(version) if s["state"] == state)

    def errors(self) -> list[dict]:
        return [m.json()["data"] for m in self.cap.on("/event/error")]

    def wait_error(self, count: int, timeout: float = 30) -> list[dict]:
        self.cap.wait_for(lambda _: len(self.errors()) >= count, timeout=timeout)
        return self.errors()

    def content_active(self) -> ContentActivePayload:
        return decode(CONTENT_ACTIVE, self.cap.on("/local/content-active")[-1].payload).payload

    def wait_active(self, version: int | None, timeout: float = 60) -> ContentActivePayload:
        def shows(_) -> bool:
            found = self.cap.on("/local/content-active")
            if not found:
                return False
            active = decode(CONTENT_ACTIVE, found[-1].payload).payload.active
            return (active.version if active is not None else None) == version
        self.cap.wait_for(shows, timeout=timeout)
        return self.content_active()

    def current(self) -> Path:
        return (self.packs_dir / "current").resolve()

    def close(self) -> None:
        self.agent.stop()


@pytest.fixture
def delivery(request, mosquitto, make_config, capture, tmp_path, nginx, cutting_proxy):
    options = getattr(request, "param", {})
    world = Delivery(mosquitto, make_config, capture, tmp_path, nginx, cutting_proxy, **options)
    yield world
    world.close()


def test_a_signed_pack_is_fetched_staged_and_switched_to_and_birth_health_and_the_kiosk_folder_follow(delivery):
    manifest = delivery.publish_pack("winkel-1", 1, pack={"video_bytes": 300_000})
    delivery.wait_status(1, "active")
    states = [s["state"] for s in delivery.statuses(1)]
    assert states[0] == "received" and states[-1] == "active" and states.index("staged") < states.index("active")
    assert "downloading" in states
    total = sum(item["size"] for item in manifest["files"])
    assert delivery.statuses(1)[-1]["bytes_done"] == total == delivery.statuses(1)[-1]["bytes_total"]
    view = delivery.wait_active(1)
    assert view.active is not None and view.active.pack == "winkel" and view.active.pack_version == "1"
    assert view.previous is None and view.staged is None
    assert delivery.current() == Path(view.active.path).resolve()
    for item in manifest["files"]:  # the kiosk's folder holds exactly the files central published
        assert file_entry(delivery.current(), delivery.current() / item["path"]) == item
    late = Capture(delivery.mosquitto.port, [CONTENT_ACTIVE.topic_for(delivery.store_id, delivery.config.device.id)])
    try:  # a kiosk that starts later gets it at once: retained
        assert late.wait_topic("/local/content-active", timeout=10)[-1].retain
    finally:
        late.close()
    assert delivery.agent.inbox.applied >= 1 and delivery.errors() == []
    # Birth (on the next connection) and health say which pack is active.
    delivery.cap.wait_for(lambda _: any(decode(HEALTH, m.payload).payload.content_packs is not None
                                        and decode(HEALTH, m.payload).payload.content_packs.active is not None
                                        for m in delivery.cap.on("/health")), timeout=20)
    delivery.restart_agent()
    delivery.cap.wait_for(lambda _: any((decode(BIRTH, m.payload).payload.content_packs or _NONE).active
                                        for m in delivery.cap.on("/birth")), timeout=20)
    assert delivery.current() == Path(view.active.path).resolve(), "a restart keeps the active pack"


class _None:
    active = None


_NONE = _None()


def test_unsigned_tampered_unknown_key_foreign_key_and_not_newer_manifests_are_refused_with_event_error(delivery):
    delivery.publish_pack("winkel-2", 2)
    delivery.wait_active(2)
    folder = serve(write_pack(delivery.tmp / "authoring" / "winkel-3", version="3"), delivery.nginx.root, "winkel-3")
    good = signed(folder, 3, f"{delivery.proxy.base_url}/winkel-3")
    applied = delivery.agent.inbox.applied
    refused = [
        ({**good, "signature": None}, "unsigned"),
        ({**good, "base_url": "http://127.0.0.1:1/elsewhere"}, "does not verify"),  # changed after signing
        (signed(folder, 3, good["base_url"], key=STRANGER, key_id="content-9"), "which this device does not hold"),
        (signed(folder, 3, good["base_url"], key=STRANGER, key_id=KEY_ID), "does not verify"),  # wrong key, known id
        (signed(folder, 2, good["base_url"]), "not newer than the active pack's version 2"),
        (signed(folder, 1, good["base_url"]), "not newer than the active pack's version 2"),
    ]
    for index, (manifest, reason) in enumerate(refused, start=1):
        message_id = delivery.push(manifest)
        error = delivery.wait_error(index)[-1]
        assert error["message_id"] == message_id and reason in error["reason"], error
        assert error["topic"].endswith("/content-pack")
    assert delivery.agent.inbox.applied == applied, "a refused manifest is never applied"
    assert delivery.statuses(3) == []
    with delivery.agent.store.reading() as conn:
        assert [row[0] for row in conn.execute("SELECT version FROM content_packs")] == [2]
    assert delivery.content_active().active.version == 2
    # The good one still goes through afterwards.
    delivery.push(good)
    delivery.wait_active(3)


def test_a_file_whose_sha256_is_not_the_manifests_fails_and_the_last_good_pack_stays_active(delivery):
    delivery.publish_pack("winkel-1", 1)
    delivery.wait_active(1)
    folder = serve(write_pack(delivery.tmp / "authoring" / "winkel-2", version="2", colour=(200, 40, 40)),
                   delivery.nginx.root, "winkel-2")
    manifest = signed(folder, 2, f"{delivery.proxy.base_url}/winkel-2")
    (folder / "attract" / "welkom.png").write_bytes(b"\x89PNG not the picture that was signed")
    shown = delivery.current()
    delivery.push(manifest)
    failed = delivery.wait_status(2, "failed")
    assert "attract/welkom.png" in failed["reason"] and "mismatch" in failed["reason"], failed
    assert delivery.current() == shown and delivery.content_active().active.version == 1
    assert not (delivery.packs_dir / "packs" / "winkel-2").exists()


def test_a_file_missing_on_the_server_fails_with_the_404_and_its_url(delivery):
    delivery.publish_pack("winkel-1", 1)
    delivery.wait_active(1)
    folder = serve(write_pack(delivery.tmp / "authoring" / "winkel-2", version="2"), delivery.nginx.root, "winkel-2")
    manifest = signed(folder, 2, f"{delivery.proxy.base_url}/winkel-2")
    (folder / "videos" / "uitleg.mp4").unlink()
    delivery.push(manifest)
    failed = delivery.wait_status(2, "failed")
    assert "HTTP 404" in failed["reason"] and "winkel-2/videos/uitleg.mp4" in failed["reason"], failed
    assert delivery.content_active().active.version == 1


def test_the_server_down_when_the_manifest_arrives_is_retried_until_it_is_back(delivery, caplog):
    caplog.set_level(logging.WARNING, logger="edge_agent.content_delivery")
    delivery.nginx.stop()
    delivery.publish_pack("winkel-1", 1)
    delivery.wait_status(1, "downloading")
    # Two tries met no server (the downloader says it tries again), then the server comes back.
    delivery.cap.wait_for(lambda _: sum("again in" in r.getMessage() for r in caplog.records) >= 2, timeout=30)
    assert not any(s["state"] in ("failed", "active") for s in delivery.statuses(1))
    delivery.nginx.start()
    delivery.wait_active(1)


@pytest.mark.parametrize("delivery", [{"download": "quota_mb = 0.1\n"}], indirect=True)
def test_a_pack_larger_than_the_disk_quota_is_refused_with_the_sizes(delivery):
    delivery.publish_pack("winkel-1", 1, pack={"video_bytes": 400_000})
    failed = delivery.wait_status(1, "failed")
    assert "does not fit" in failed["reason"] and "MB" in failed["reason"], failed
    assert delivery.content_active().active is None
    assert not (delivery.packs_dir / "current").exists()


def test_a_pack_with_activate_at_is_staged_and_becomes_active_at_that_time_not_before(delivery):
    delivery.publish_pack("winkel-1", 1)
    delivery.wait_active(1)
    at = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
    delivery.publish_pack("winkel-2", 2, activate_at=at)
    delivery.cap.wait_for(lambda _: (delivery.cap.on("/local/content-active")
                          and delivery.content_active().staged is not None)
                          or any(s["state"] == "active" for s in delivery.statuses(2)), timeout=60)
    view = delivery.content_active()
    if datetime.now(UTC) < at:  # still before its time (on any machine this is checked before it)
        assert view.active.version == 1 and view.staged is not None and view.staged.version == 2
        assert view.staged.activate_at == at.strftime("%Y-%m-%dT%H:%M:%SZ") and not view.staged.awaiting_approval
    delivery.wait_status(2, "active")
    switched = next(m for m in delivery.cap.on("/event/content-status")
                    if m.json()["data"]["version"] == 2 and m.json()["data"]["state"] == "active")
    assert datetime.fromisoformat(switched.json()["ts"].replace("Z", "+00:00")) >= at
    assert delivery.wait_active(2).previous.version == 1


def test_a_pack_due_while_the_agent_was_down_is_activated_at_start_up(delivery):
    delivery.publish_pack("winkel-1", 1)
    delivery.wait_active(1)
    at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    delivery.publish_pack("winkel-2", 2, activate_at=at)
    delivery.wait_status(2, "staged")
    delivery.agent.stop()
    while datetime.now(UTC) <= at:
        time.sleep(0.2)
    delivery.agent = delivery.start_agent()
    delivery.wait_active(2)


def test_the_kiosk_failing_to_load_the_new_pack_brings_the_previous_one_back(delivery):
    delivery.publish_pack("winkel-1", 1)
    delivery.wait_active(1)
    first = delivery.current()
    delivery.publish_pack("winkel-2", 2)
    delivery.wait_active(2)
    topic = f"cs/v1/{delivery.store_id}/{delivery.config.device.id}/local/request/content-loaded"
    request = envelope("request-content-loaded/1", {"pack": "winkel", "version": 2, "ok": False,
                                                    "reason": "attract/welkom.png: cannot decode"}, transaction="t-1")
    central_push.publish([central_push.Outgoing("content-loaded", topic, request, 1)], "127.0.0.1",
                         delivery.mosquitto.port)
    response = delivery.cap.wait_topic("/local/response/content-loaded")[-1].json()
    assert response["status"] == "ok" and response["data"]["fallback"] is True
    assert response["data"]["active"]["version"] == 1
    view = delivery.wait_active(1)
    assert view.previous is None and delivery.current() == first
    failed = delivery.wait_status(2, "failed")
    assert "cannot decode" in failed["reason"]


def test_only_the_last_two_good_packs_are_kept_and_a_shared_file_is_fetched_once(delivery):
    for version in (1, 2, 3):
        delivery.publish_pack(f"winkel-{version}", version, pack={"colour": (10 * version, 90, 90)})
        delivery.wait_active(version)

    def kept() -> list[str]:
        return sorted(path.name for path in (delivery.packs_dir / "packs").iterdir())
    delivery.cap.wait_for(lambda _: kept() == ["winkel-2", "winkel-3"], timeout=20)
    view = delivery.content_active()
    assert view.active.version == 3 and view.previous.version == 2
    blobs = delivery.agent.content_delivery.folders.blobs
    wanted = set()
    with delivery.agent.store.reading() as conn:
        for (text,) in conn.execute("SELECT manifest FROM content_packs WHERE state IN ('active', 'previous')"):
            wanted |= {item["sha256"] for item in json.loads(text)["files"]}
    # The files of the packs no longer kept go after their folders (the same collection, a moment later).
    delivery.cap.wait_for(lambda _: blobs.shas() == wanted, timeout=20)
    assert blobs.shas() == wanted


def test_a_restart_in_the_middle_of_a_download_resumes_it_with_a_range_request(delivery):
    delivery.proxy.pace_bytes_per_s = 200_000
    manifest = delivery.publish_pack("winkel-1", 1, pack={"video_bytes": 2_000_000})
    video = next(item for item in manifest["files"] if item["path"] == "videos/uitleg.mp4")
    partial = delivery.packs_dir / "blobs" / "partial" / f"{video['sha256']}.part"
    delivery.cap.wait_for(lambda _: partial.exists() and partial.stat().st_size > 100_000, timeout=60)
    delivery.agent.stop()
    held = partial.stat().st_size
    delivery.proxy.pace_bytes_per_s = None
    delivery.agent = delivery.start_agent()
    delivery.wait_active(1)
    assert any('" 206 ' in line for line in delivery.nginx.requests()), "the rest was asked for with Range"
    assert held < video["size"]


def test_a_pack_for_other_stores_or_devices_is_noted_and_not_fetched(delivery):
    delivery.proxy.reset_counts()
    delivery.publish_pack("elders", 1, stores=["store-elders"])
    refused = delivery.wait_status(1, "refused")
    assert "not " + delivery.store_id in refused["reason"]
    delivery.publish_pack("scherm", 2, device_kinds=["shelf"])
    assert "shelf" in delivery.wait_status(2, "refused")["reason"]
    assert delivery.proxy.connections == 0 and delivery.errors() == []


def test_a_pack_whose_content_yaml_the_kiosk_refuses_fails_with_the_validation_problem(delivery):
    delivery.publish_pack("winkel-1", 1)
    delivery.wait_active(1)
    folder = serve(write_pack(delivery.tmp / "authoring" / "winkel-2", version="2"), delivery.nginx.root, "winkel-2")
    (folder / "content.yaml").write_text((folder / "content.yaml").read_text().replace("seconds: 8", "seconds: 1"))
    files = [file_entry(folder, folder / path) for path in ("content.yaml", "attract/welkom.png",
                                                           "videos/uitleg.mp4")]
    manifest = {"pack": "winkel", "version": 2, "pack_version": "2", "files": files,
                "base_url": f"{delivery.proxy.base_url}/winkel-2", "activate_at": None, "end": None,
                "targets": {"stores": None, "device_kinds": None, "orientations": None}}
    from edge_agent.content_delivery.signing import sign_manifest

    delivery.push(sign_manifest(manifest, KEY, KEY_ID))
    failed = delivery.wait_status(2, "failed")
    assert failed["reason"].startswith("pack validation: ") and "seconds" in failed["reason"], failed
    assert delivery.content_active().active.version == 1


def test_a_shop_without_content_keys_keeps_its_folder_pack_and_refuses_content_pushes(mosquitto, make_config,
                                                                                     capture, tmp_path):
    folder = write_pack(tmp_path / "pack")
    _, config = make_config(mosquitto, extra=f'[content]\nfolder = "{folder}"\n')
    cap = capture(mosquitto, ["cs/#"])
    agent = Agent(config)
    agent.start()
    try:
        assert agent.link.wait_connected(10) and agent.content_delivery is None
        manifest = signed(folder, 1, "http://127.0.0.1:9/none")
        _, payload = encode(PUSHES["content-pack"], manifest)
        central_push.publish([central_push.Outgoing("content-pack", PUSHES["content-pack"].topic_for(
            config.store.id), payload, 1)], "127.0.0.1", mosquitto.port)
        cap.wait_topic("/event/error", timeout=20)
        assert "does not take content-pack pushes" in cap.on("/event/error")[-1].json()["data"]["reason"]
        assert os.path.isdir(folder) and (folder / "content.yaml").exists()
    finally:
        agent.stop()


def test_at_a_packs_end_the_previous_pack_comes_back(delivery):
    delivery.publish_pack("winkel-1", 1)
    delivery.wait_active(1)
    end = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
    delivery.publish_pack("winkel-2", 2, end=end)
    delivery.wait_status(2, "active")
    ended = delivery.wait_status(2, "ended")
    assert "has passed" in ended["reason"]
    view = delivery.wait_active(1)
    assert delivery.current() == Path(view.active.path).resolve()
    stamp = next(m for m in delivery.cap.on("/event/content-status")
                 if m.json()["data"]["version"] == 2 and m.json()["data"]["state"] == "ended").json()["ts"]
    assert datetime.fromisoformat(stamp.replace("Z", "+00:00")) >= end


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_agent", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, check=False)


def test_content_build_refuses_a_broken_pack_with_file_and_line_and_publish_print_gives_mosquitto_pub(tmp_path):
    key = tmp_path / "central.pem"
    made = run_cli("content", "keygen", str(key), "--key-id", "content-7", cwd=tmp_path)
    assert made.returncode == 0 and 'content-7 = "' in made.stdout, made.stderr
    assert (key.stat().st_mode & 0o777) == 0o600
    assert run_cli("content", "keygen", str(key), cwd=tmp_path).returncode != 0, "a key is never overwritten"
    folder = write_pack(tmp_path / "pack", version="3")
    (folder / ".DS_Store").write_bytes(b"left by a file manager")
    built = run_cli("content", "build", str(folder), "--key", str(key), "--key-id", "content-7", "--version", "3",
                    "--base-url", "https://content.example.com/winkel", "--activate-at", "2026-12-05T07:00+01:00",
                    "--device-kind", "kiosk", "-o", str(tmp_path / "manifest.json"), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["activate_at"] == "2026-12-05T06:00:00Z" and manifest["targets"]["device_kinds"] == ["kiosk"]
    assert sorted(item["path"] for item in manifest["files"]) == ["attract/welkom.png", "content.yaml",
                                                                  "videos/uitleg.mp4"]
    assert {item["media_type"] for item in manifest["files"]} == {"image/png", "application/yaml", "video/mp4"}
    printed = run_cli("content", "publish", str(tmp_path / "manifest.json"), "--store", "store-0042", "--print",
                      cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("mosquitto_pub -h localhost -p 1883 -q 1 -t cs/v1/central/store-0042/"
                                     "content-pack -m ")
    (folder / "attract" / "welkom.png").unlink()
    broken = run_cli("content", "build", str(folder), "--key", str(key), "--version", "4", "--base-url",
                     "https://content.example.com/winkel", cwd=tmp_path)
    assert broken.returncode != 0
    assert "content.yaml:5: attract.0.image: attract/welkom.png does not exist" in broken.stderr, broken.stderr


def test_a_newer_manifest_during_a_download_supersedes_it_and_an_older_one_than_the_staged_is_refused(delivery):
    delivery.proxy.pace_bytes_per_s = 100_000
    delivery.publish_pack("winkel-1", 1, pack={"video_bytes": 3_000_000})
    delivery.wait_status(1, "downloading")
    delivery.proxy.pace_bytes_per_s = None
    later = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    delivery.publish_pack("winkel-2", 2, activate_at=later)
    superseded = delivery.wait_status(1, "failed")
    assert superseded["reason"] == "superseded by version 2"
    delivery.wait_status(2, "staged")
    folder = serve(write_pack(delivery.tmp / "authoring" / "winkel-0", version="0"), delivery.nginx.root, "winkel-0")
    message_id = delivery.push(signed(folder, 2, f"{delivery.proxy.base_url}/winkel-0"))
    error = delivery.wait_error(1)[-1]
    assert error["message_id"] == message_id and "not newer than the staged pack's version 2" in error["reason"]
    assert delivery.content_active().active is None, "the staged one waits for its time"
