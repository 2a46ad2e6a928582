"""Content packs for the gapless attract tests and ``bench/attract_transitions.py``: short items, real media.

:func:`attract_pack` writes a pack whose attract loop alternates real PNG
images and real MPEG-4 videos (OpenCV's ``mp4v``, as the demo pack's
``make_media.py`` writes them; decoded by ffpyplayer in the kiosk), each shown
for the shortest time a manifest allows (2 s), so a minute holds about thirty
transitions. Every picture is a colour gradient with a bar of text across it:
nowhere near the kiosk's background colour, so a frame that shows it is never
taken for the background by the frame recorder (:mod:`kiosk.frame_recorder`).
:func:`frames` reads the recorder's file.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import cv2
import numpy as np

SECONDS = 2  # the shortest an item may show (kiosk.content)
IMAGE_SIZE = (960, 540)
VIDEO_SIZE = (320, 180)
FPS = 25


def _picture(size: tuple[int, int], hue: int, label: str) -> np.ndarray:
    width, height = size
    ramp = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    top = np.array(cv2.cvtColor(np.uint8([[[hue, 230, 220]]]), cv2.COLOR_HSV2BGR)[0, 0], dtype=np.float32)
    bottom = np.array(cv2.cvtColor(np.uint8([[[(hue + 60) % 180, 200, 120]]]), cv2.COLOR_HSV2BGR)[0, 0],
                      dtype=np.float32)
    image = (top * (1 - ramp) + bottom * ramp).repeat(height, axis=0).astype(np.uint8)
    cv2.putText(image, label, (width // 12, height // 2), cv2.FONT_HERSHEY_SIMPLEX, height / 180, (255, 255, 255),
                max(2, height // 90), cv2.LINE_AA)
    return image


def _video(path: Path, hue: int, label: str, seconds: float = 3.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, VIDEO_SIZE)
    try:
        for index in range(round(seconds * FPS)):
            frame = _picture(VIDEO_SIZE, (hue + index) % 180, f"{label} {index / FPS:.1f}")
            writer.write(frame)
    finally:
        writer.release()
    if not path.is_file() or path.stat().st_size == 0:
        raise RuntimeError(f"OpenCV wrote no video at {path}")


def attract_pack(folder: Path, version: str = "1", *, name: str = "gapless", images: int = 3, videos: int = 2,
                 caption: str = "Item") -> Path:
    """Write a pack into ``folder``: ``images`` images and ``videos`` videos in turn (images first when there are
    more), each :data:`SECONDS` long, captioned ``"<caption> <n>"``; returns ``folder``."""
    (folder / "attract").mkdir(parents=True, exist_ok=True)
    (folder / "videos").mkdir(exist_ok=True)
    entries = []
    image_names = [f"attract/beeld-{index}.png" for index in range(images)]
    video_names = [f"videos/film-{index}.mp4" for index in range(videos)]
    for index, relative in enumerate(image_names):
        cv2.imwrite(str(folder / relative), _picture(IMAGE_SIZE, (index * 37 + int(version.split(".")[0]) * 11) % 180,
                                                     f"{name} {version} beeld {index}"))
    for index, relative in enumerate(video_names):
        _video(folder / relative, (index * 53 + 90) % 180, f"{name} {version} film {index}")
    order = []
    while image_names or video_names:
        if image_names:
            order.append(("image", image_names.pop(0)))
        if video_names:
            order.append(("video", video_names.pop(0)))
    for number, (kind, relative) in enumerate(order, start=1):
        entries.append(f"  - id: item-{number}\n    {kind}: {relative}\n    seconds: {SECONDS}\n"
                       f"    caption: {{nl: \"{caption} {number}\"}}\n")
    (folder / "content.yaml").write_text(textwrap.dedent(f"""\
        pack: {name}
        version: "{version}"
        attract:
        """) + "".join(entries), encoding="utf-8")
    return folder


def frames(path: Path) -> list[dict]:
    """The frame recorder's lines so far (a last line still being written is left out)."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            break
    return found


def transitions(recorded: list[dict]) -> list[dict]:
    """The frames that showed a new attract item (the first frame with a new ``shows`` count, on Bereik alone)."""
    found, shows = [], None
    for frame in recorded:
        if frame["background_only"] is None:
            continue
        if shows is not None and frame["shows"] != shows:
            found.append(frame)
        shows = frame["shows"]
    return found


def background_only(recorded: list[dict]) -> list[dict]:
    """The frames in which the attract area showed only the background."""
    return [frame for frame in recorded if frame["background_only"]]


def around(recorded: list[dict], chosen: list[dict], frames_before: int = 3) -> str:
    """The recorder's lines of ``chosen`` frames with the few before each, for an assertion's message."""
    index = {frame["n"]: position for position, frame in enumerate(recorded)}
    lines = []
    for frame in chosen[:5]:
        position = index[frame["n"]]
        lines.extend(json.dumps(each) for each in recorded[max(0, position - frames_before):position + 2])
        lines.append("")
    return "\n".join(lines)
