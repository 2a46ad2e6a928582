"""Privacy: masks blank before any processing, and no image bytes reach the callback, the database or the disk."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.camera.app_qr import AppTokenVerifier, issue_token, public_key_hex
from edge_agent.camera.barcodes import BarcodeReader
from edge_agent.camera.config import CameraConfig
from edge_agent.camera.pipeline import build_pipeline, check_event_data
from edge_agent.camera.privacy import PrivacyMask
from edge_agent.contract import EVENTS, Topics
from edge_agent.outbox import Outbox
from edge_agent.store import Store
from tests.support.camera_scenes import (
    background,
    code_image,
    collecting,
    draw_person,
    paste,
    run_file,
    write_video,
)
from tests.support.cards import CUSTOMER
from tests.support.faults import wait_until

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
RIGHT_HALF = ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0))


def test_mask_blanks_exactly_its_polygons():
    frame = np.full((100, 200, 3), 200, np.uint8)
    PrivacyMask([((0.0, 0.0), (0.25, 0.0), (0.25, 0.5), (0.0, 0.5)), RIGHT_HALF]).apply(frame)
    assert not frame[:45, :45].any()
    assert (frame[60:, :45] == 200).all()
    assert (frame[:, 55:95] == 200).all()
    assert not frame[:, 101:].any()
    grey = np.full((100, 200), 9, np.uint8)
    PrivacyMask([RIGHT_HALF]).apply(grey)
    assert not grey[:, 101:].any() and (grey[:, :99] == 9).all()
    untouched = np.full((4, 4), 7, np.uint8)
    assert PrivacyMask().apply(untouched) is untouched and (untouched == 7).all()


def test_a_code_behind_a_mask_is_never_read(tmp_path):
    token = issue_token(KEY, CUSTOMER, ttl_s=120)
    frames = []
    for _ in range(8):
        frame = background(480, 360)
        paste(frame, code_image(token), 300, 60)  # in the right half
        frames.append(frame)
    video = tmp_path / "qr-right.avi"
    write_video(video, frames, 15)
    verifier = AppTokenVerifier({1: KEY.public_key()})
    masked = run_file(video, collecting(reader=BarcodeReader(), verifier=verifier), mask=PrivacyMask([RIGHT_HALF]))
    assert masked == []
    unmasked = run_file(video, collecting(reader=BarcodeReader(), verifier=verifier))
    assert [(kind, data["customer"]) for _, kind, data in unmasked] == [("app-identification", CUSTOMER)]


@pytest.mark.parametrize("data", [{"image": np.zeros((2, 2), np.uint8)}, {"jpeg": b"\xff\xd8"},
                                  {"nested": {"a": 1}}, {"list": [1, 2]}, {1: "key"}, ["not", "a", "dict"]])
def test_event_data_that_is_not_flat_json_scalars_is_refused(data):
    with pytest.raises(TypeError):
        check_event_data(data)


def test_event_data_of_json_scalars_passes():
    data = {"zone": "a", "count": 3, "dwell_s": 1.5, "present": True, "reason": None}
    assert check_event_data(data) is data


# --------------------------------------------------------------------------- nothing leaves but events


def _scene(path: Path, token: str) -> None:
    """Someone walks up, holds a product barcode and their app QR code up, and walks off."""
    rng = np.random.default_rng(5)
    base = background(640, 480)
    product = code_image("4006381333931", "EAN13", scale=3)
    qr = code_image(token)
    frames = []
    for index in range(150):
        frame = base.copy()
        if 15 <= index < 135:
            x = min(320, -40 + index * 20) if index < 75 else 320 + (index - 75) * 12
            draw_person(frame, x, 330, rng)
        if 40 <= index < 60:
            paste(frame, product, 40, 40)
        if 70 <= index < 90:
            paste(frame, qr, 40, 40)
        frames.append(frame)
    write_video(path, frames, 15)


def test_no_image_bytes_reach_the_callback_the_database_or_the_disk(tmp_path, monkeypatch, caplog):
    video_dir = tmp_path / "video"
    video_dir.mkdir()
    video = video_dir / "scene.avi"
    _scene(video, issue_token(KEY, CUSTOMER, ttl_s=300))
    config = CameraConfig.model_validate({
        "source": str(video), "pace": "fast", "loop": False,
        "presence": {"off_s": 1.0, "footfall_interval_s": 2.0},
        "app_qr": {"public_keys": {"1": public_key_hex(KEY)}},
        "shelf": {"zones": [{"name": "top-left", "gtin": "4006381333931",
                             "polygon": [[0.0, 0.0], [0.2, 0.0], [0.2, 0.2], [0.0, 0.2]]}]},
    })
    store = Store(tmp_path / "db" / "agent.db")
    outbox = Outbox(store, Topics("store-1", "kiosk-1"), max_rows=1000)

    # Every way a frame could reach the disk through OpenCV is recorded and fails. The pipeline
    # thread logs and swallows a stage's exception, so the test looks at the record, not for a raise.
    tripped: list[str] = []

    def tripwire(name: str):
        def forbidden(*args, **kwargs):
            tripped.append(name)
            raise AssertionError(f"the camera tried to write an image (cv2.{name})")
        return forbidden

    for name in ("imwrite", "imencode", "imwritemulti", "VideoWriter"):
        monkeypatch.setattr(cv2, name, tripwire(name))
    # And any file opened for writing from Python during the run is recorded.
    watching = threading.Event()
    written: list[str] = []

    def audit(event, args):
        if watching.is_set() and event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            mode, flags = args[1], args[2] if len(args) > 2 else 0
            writes = (mode and any(c in str(mode) for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR))
            if writes:
                path = os.fsdecode(args[0])
                if "agent.db" not in path:  # the database is checked below
                    written.append(path)

    sys.addaudithook(audit)
    database_dir = tmp_path / "db"

    def files() -> list[Path]:
        return sorted(path for path in tmp_path.rglob("*") if database_dir not in path.parents)

    before = files()
    events: list[tuple[str, dict]] = []
    payloads: list[bytes] = []

    def on_event(kind: str, data: dict) -> None:
        events.append((kind, data))
        payloads.append(json.dumps({"kind": kind, "data": data}).encode())
        if kind in EVENTS:  # footfall is in the contract already: through the real outbox into SQLite
            outbox.enqueue(kind, data)

    pipeline = build_pipeline(config, on_event)
    watching.set()
    try:
        pipeline.start()
        wait_until(lambda: pipeline.source.ended and pipeline.health()["frames_processed"] >= 150, 30,
                   "the video played")
        time.sleep(0.2)
    finally:
        pipeline.stop()
        watching.clear()
    assert tripped == [], "the camera called OpenCV's image writers"
    failures = [record.getMessage() for record in caplog.records
                if record.name.startswith("edge_agent.camera") and record.levelno >= logging.ERROR]
    assert failures == [], "the pipeline logged failures"
    kinds = [kind for kind, _ in events]
    assert {"presence-start", "presence-end", "footfall", "scan", "app-identification"} <= set(kinds), kinds
    for _kind, data in events:
        check_event_data(data)
        assert not any(isinstance(value, (bytes, bytearray, memoryview, np.ndarray)) for value in data.values())
    assert max(len(payload) for payload in payloads) < 300
    assert written == []
    assert files() == before
    with store.reading() as conn:
        rows = conn.execute("SELECT payload FROM outbox").fetchall()
    assert rows and all(len(row[0]) < 400 for row in rows)
    assert all(b"\xff\xd8" not in row[0] and b"data:image" not in row[0] for row in rows)
    store.close()
