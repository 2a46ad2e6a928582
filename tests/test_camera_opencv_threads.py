"""The camera's processes run OpenCV single-threaded (``edge_agent.camera.barcodes.one_opencv_thread``).

Its pool costs more CPU than it saves on the camera's small pictures (bench/camera_decode.py); the
setting is process-wide, so both places a camera process starts make it: ``edge-agent camera decode``
and :func:`edge_agent.camera.pipeline.build_pipeline`. Each test puts OpenCV's own count back after.
"""

from __future__ import annotations

import cv2
import pytest

from edge_agent.camera.cli import main as camera_main
from edge_agent.camera.config import CameraConfig
from edge_agent.camera.pipeline import build_pipeline
from tests.support.camera_scenes import code_image


@pytest.fixture
def opencv_threads():
    """OpenCV at two threads (as on a two-core machine) before the test, and its own count after."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    yield
    cv2.setNumThreads(before)


def test_camera_decode_runs_opencv_on_one_thread_so_no_pool_spins_beside_each_image(opencv_threads, tmp_path,
                                                                                 capsys):
    image = tmp_path / "code.png"
    cv2.imwrite(str(image), code_image("4006381333931", "EAN13"))
    assert camera_main(["decode", str(image)]) == 0
    assert '"text": "4006381333931"' in capsys.readouterr().out
    assert cv2.getNumThreads() == 1


def test_the_agents_camera_pipeline_runs_opencv_on_one_thread(opencv_threads):
    build_pipeline(CameraConfig(source="0"), lambda kind, data: None, opener=lambda spec: None)
    assert cv2.getNumThreads() == 1
