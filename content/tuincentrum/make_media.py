"""Draws the demo pack's media: product photos, attract slides, posters and two instruction videos.

    python content/tuincentrum/make_media.py [--out DIR] [--force]

Everything is drawn with OpenCV and numpy (nothing is downloaded) into the
folder of ``content.yaml`` (or ``--out``); files that exist are kept unless
``--force``. The output is deterministic: the same drawing every run. The
videos are MPEG-4 part 2 (``mp4v``) in MP4, 640x360 at 25 fps, which FFmpeg
(and so ffpyplayer, the kiosk's video player) decodes everywhere. Generated
media are not committed (see ``.gitignore``); ``build_media`` is what the
tests and the demo call.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
FPS = 25
VIDEO_SIZE = (640, 360)
SLIDE_SIZE = (1280, 720)
PRODUCT_SIZE = (600, 600)
FONT = cv2.FONT_HERSHEY_DUPLEX

# Colours (BGR).
WHITE = (255, 255, 255)
CREAM = (225, 242, 248)
INK = (40, 45, 35)
DARK_GREEN = (40, 85, 30)
GREEN = (60, 150, 70)
LIGHT_GREEN = (120, 205, 140)
YELLOW_GREEN = (70, 190, 180)
ORANGE = (30, 130, 235)
RED = (40, 40, 200)
STEEL = (190, 190, 185)
BROWN = (40, 80, 120)
SKY = (235, 205, 160)


# --------------------------------------------------------------------------- drawing helpers


def canvas(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> np.ndarray:
    """A vertical gradient, ``size`` = (width, height)."""
    width, height = size
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    column = (1 - ramp) * np.array(top, np.float32) + ramp * np.array(bottom, np.float32)
    return np.ascontiguousarray(np.broadcast_to(column, (height, width, 3)).astype(np.uint8))


def _euro(image, x: int, baseline: int, height: int, colour, thickness: int) -> int:
    """Draws a euro sign (the Hershey fonts have none); returns its advance."""
    radius = height // 2
    centre = (x + radius // 2 + radius, baseline - radius)
    cv2.ellipse(image, centre, (radius, radius), 0, 40, 320, colour, thickness, cv2.LINE_AA)
    for dy in (-radius // 4, radius // 4):
        cv2.line(image, (x + radius // 4, centre[1] + dy), (centre[0] + radius // 3, centre[1] + dy), colour,
                 max(1, thickness - 1), cv2.LINE_AA)
    return _euro_advance(height, thickness)


def _euro_advance(height: int, thickness: int) -> int:
    return height // 2 * 2 + height // 2 + thickness


def _segments(text: str) -> list[str]:
    """``text`` split so that '€' and '²' (not in the Hershey fonts) are pieces of their own."""
    pieces, current = [], ""
    for char in text:
        if char in "€²":
            pieces.extend([current, char] if current else [char])
            current = ""
        else:
            current += char
    return [*pieces, current] if current else pieces


def text_width(text: str, scale: float, thickness: int) -> int:
    height = cv2.getTextSize("0", FONT, scale, thickness)[0][1]
    width = 0
    for piece in _segments(text):
        if piece == "€":
            width += _euro_advance(height, thickness)
        elif piece == "²":
            width += cv2.getTextSize("2", FONT, scale * 0.55, max(1, thickness - 1))[0][0]
        else:
            width += cv2.getTextSize(piece, FONT, scale, thickness)[0][0]
    return width


def text(image, value: str, origin: tuple[int, int], scale: float, colour=WHITE, thickness: int = 2,
         align: str = "left") -> None:
    """``value`` at ``origin`` (the baseline's left, centre or right end), '€' and '²' included."""
    x, baseline = origin
    width = text_width(value, scale, thickness)
    x = {"left": x, "center": x - width // 2, "right": x - width}[align]
    height = cv2.getTextSize("0", FONT, scale, thickness)[0][1]
    for piece in _segments(value):
        if piece == "€":
            x += _euro(image, x, baseline, height, colour, thickness)
        elif piece == "²":
            small = scale * 0.55
            cv2.putText(image, "2", (x, baseline - height // 2), FONT, small, colour, max(1, thickness - 1),
                        cv2.LINE_AA)
            x += cv2.getTextSize("2", FONT, small, max(1, thickness - 1))[0][0]
        else:
            cv2.putText(image, piece, (x, baseline), FONT, scale, colour, thickness, cv2.LINE_AA)
            x += cv2.getTextSize(piece, FONT, scale, thickness)[0][0]


def rounded_rect(image, top_left, bottom_right, radius: int, colour, thickness: int = -1) -> None:
    (x0, y0), (x1, y1) = top_left, bottom_right
    radius = max(1, min(radius, (x1 - x0) // 2, (y1 - y0) // 2))
    if thickness < 0:
        cv2.rectangle(image, (x0 + radius, y0), (x1 - radius, y1), colour, -1, cv2.LINE_AA)
        cv2.rectangle(image, (x0, y0 + radius), (x1, y1 - radius), colour, -1, cv2.LINE_AA)
        for centre in ((x0 + radius, y0 + radius), (x1 - radius, y0 + radius), (x0 + radius, y1 - radius),
                       (x1 - radius, y1 - radius)):
            cv2.circle(image, centre, radius, colour, -1, cv2.LINE_AA)
    else:
        for start, end in (((x0 + radius, y0), (x1 - radius, y0)), ((x0 + radius, y1), (x1 - radius, y1)),
                           ((x0, y0 + radius), (x0, y1 - radius)), ((x1, y0 + radius), (x1, y1 - radius))):
            cv2.line(image, start, end, colour, thickness, cv2.LINE_AA)
        for centre, angle in (((x0 + radius, y0 + radius), 180), ((x1 - radius, y0 + radius), 270),
                              ((x0 + radius, y1 - radius), 90), ((x1 - radius, y1 - radius), 0)):
            cv2.ellipse(image, centre, (radius, radius), angle, 0, 90, colour, thickness, cv2.LINE_AA)


def scaled(points, scale: float, offset: tuple[float, float]) -> np.ndarray:
    return np.array([(offset[0] + x * scale, offset[1] + y * scale) for x, y in points], np.int32)


# --------------------------------------------------------------------------- products and drawings


def fertiliser_bag(image, centre: tuple[int, int], scale: float, kilos: int) -> None:
    """A bag of lawn fertiliser, bigger for more kilos; ``scale`` 1 is about 300 px tall."""
    cx, cy = centre
    grow = {5: 0.8, 10: 0.9, 20: 1.0}.get(kilos, 1.0) * scale
    outline = scaled([(-110, -150), (110, -150), (125, 140), (-125, 140)], grow, (cx, cy))
    cv2.fillPoly(image, [outline + np.array([8, 10], np.int32)], (30, 50, 25), cv2.LINE_AA)  # shadow
    cv2.fillPoly(image, [outline], GREEN, cv2.LINE_AA)
    top = scaled([(-110, -150), (110, -150), (105, -125), (-105, -125)], grow, (cx, cy))
    cv2.fillPoly(image, [top], DARK_GREEN, cv2.LINE_AA)
    label0 = (int(cx - 90 * grow), int(cy - 95 * grow))
    label1 = (int(cx + 90 * grow), int(cy + 60 * grow))
    rounded_rect(image, label0, label1, int(12 * grow), CREAM)
    text(image, "GAZONMEST", (cx, int(cy - 62 * grow)), 0.9 * grow, DARK_GREEN, max(1, round(2 * grow)),
         "center")
    text(image, f"{kilos} kg", (cx, int(cy + 10 * grow)), 2.0 * grow, ORANGE, max(2, round(4 * grow)), "center")
    text(image, f"{kilos * 20} m²", (cx, int(cy + 45 * grow)), 0.8 * grow, INK, max(1, round(2 * grow)), "center")
    grass(image, (int(cx - 120 * grow), int(cx + 120 * grow)), int(cy + 135 * grow), int(40 * grow), 1.0,
          seed=kilos, count=int(40 * grow) + 10)


def grass(image, span: tuple[int, int], ground: int, height: int, greenness: float, seed: int = 1,
          count: int = 60, cut_until: int | None = None, cut_height: int | None = None) -> None:
    """Blades of grass between ``span`` x-coordinates on the line ``ground``; left of ``cut_until`` they
    are ``cut_height`` tall. ``greenness`` 0..1 goes from straw to deep green."""
    rng = np.random.default_rng(seed)
    xs = np.linspace(span[0], span[1], count) + rng.uniform(-3, 3, count)
    heights = height * rng.uniform(0.7, 1.1, count)
    leans = rng.uniform(-0.35, 0.35, count)
    straw, deep = np.array(YELLOW_GREEN, float), np.array((50, 160, 40), float)
    colour = tuple(int(v) for v in straw + (deep - straw) * greenness)
    for x, full, lean in zip(xs, heights, leans, strict=True):
        blade = full
        if cut_until is not None and x < cut_until:
            blade = cut_height if cut_height is not None else full / 2
        tip = (int(x + lean * blade), int(ground - blade))
        cv2.line(image, (int(x), ground), tip, colour, 2, cv2.LINE_AA)


def bottle(image, centre: tuple[int, int], scale: float) -> None:
    cx, cy = centre
    body = ((int(cx - 80 * scale), int(cy - 90 * scale)), (int(cx + 80 * scale), int(cy + 170 * scale)))
    rounded_rect(image, (body[0][0] + 8, body[0][1] + 10), (body[1][0] + 8, body[1][1] + 10), int(25 * scale),
                 (60, 60, 50))
    rounded_rect(image, *body, int(25 * scale), (30, 150, 215))
    neck = np.array([(cx - 35 * scale, cy - 90 * scale), (cx + 35 * scale, cy - 90 * scale),
                     (cx + 22 * scale, cy - 150 * scale), (cx - 22 * scale, cy - 150 * scale)], np.int32)
    cv2.fillPoly(image, [neck], (30, 150, 215), cv2.LINE_AA)
    rounded_rect(image, (int(cx - 28 * scale), int(cy - 195 * scale)), (int(cx + 28 * scale), int(cy - 145 * scale)),
                 int(8 * scale), (30, 30, 30))
    rounded_rect(image, (int(cx - 65 * scale), int(cy - 40 * scale)), (int(cx + 65 * scale), int(cy + 110 * scale)),
                 int(10 * scale), CREAM)
    text(image, "MAAIER", (cx, int(cy - 2 * scale)), 0.8 * scale, INK, max(1, round(2 * scale)), "center")
    text(image, "OLIE", (cx, int(cy + 35 * scale)), 0.8 * scale, INK, max(1, round(2 * scale)), "center")
    text(image, "1 L", (cx, int(cy + 90 * scale)), 1.3 * scale, ORANGE, max(2, round(3 * scale)), "center")


def shears(image, pivot: tuple[int, int], scale: float, opening: float = 0.35, angle: float = 0.0) -> None:
    """Bypass pruning shears around ``pivot``; ``opening`` 0 (closed) .. 1 (wide open) in radians-ish."""
    px, py = pivot

    def rotate(points, by):
        c, s = math.cos(angle + by), math.sin(angle + by)
        return np.array([(px + (x * c - y * s) * scale, py + (x * s + y * c) * scale) for x, y in points], np.int32)

    blade = [(0, -10), (150, -22), (175, -5), (150, 8), (0, 12)]
    anvil = [(0, -8), (120, -4), (140, 12), (0, 14)]
    handle = [(0, -14), (-190, -30), (-215, -10), (-190, 10), (0, 14)]
    half = opening / 2
    cv2.fillPoly(image, [rotate(handle, -half)], RED, cv2.LINE_AA)
    cv2.fillPoly(image, [rotate(handle, half)], (30, 30, 160), cv2.LINE_AA)
    cv2.fillPoly(image, [rotate(anvil, -half)], (120, 120, 115), cv2.LINE_AA)
    cv2.fillPoly(image, [rotate(blade, half)], STEEL, cv2.LINE_AA)
    cv2.circle(image, (px, py), max(3, int(11 * scale)), (60, 60, 60), -1, cv2.LINE_AA)


def glove(image, centre: tuple[int, int], scale: float, colour=(60, 170, 220), mirror: bool = False) -> None:
    cx, cy = centre
    sign = -1 if mirror else 1
    rounded_rect(image, (int(cx - 70 * scale), int(cy - 40 * scale)), (int(cx + 70 * scale), int(cy + 120 * scale)),
                 int(35 * scale), colour)
    for index, (dx, length) in enumerate(((-52, 95), (-18, 115), (18, 110), (52, 90))):
        x = int(cx + sign * dx * scale)
        rounded_rect(image, (x - int(16 * scale), int(cy - (40 + length) * scale)), (x + int(16 * scale),
                     int(cy - 10 * scale)), int(16 * scale), colour)
        cv2.line(image, (x, int(cy - (30 + length) * scale)), (x, int(cy - (18 + length) * scale)), CREAM,
                 max(1, int(3 * scale)), cv2.LINE_AA)  # nail guard
        del index
    thumb = np.array([(cx + sign * 55 * scale, cy + 20 * scale), (cx + sign * 120 * scale, cy - 40 * scale),
                      (cx + sign * 140 * scale, cy - 20 * scale), (cx + sign * 70 * scale, cy + 60 * scale)], np.int32)
    cv2.fillPoly(image, [thumb], colour, cv2.LINE_AA)
    cv2.rectangle(image, (int(cx - 70 * scale), int(cy + 95 * scale)), (int(cx + 70 * scale), int(cy + 135 * scale)),
                  DARK_GREEN, -1, cv2.LINE_AA)


def card(image, top_left: tuple[int, int], scale: float) -> None:
    x, y = top_left
    w, h = int(340 * scale), int(214 * scale)
    rounded_rect(image, (x + 10, y + 12), (x + w + 10, y + h + 12), int(18 * scale), (30, 50, 25))
    rounded_rect(image, (x, y), (x + w, y + h), int(18 * scale), DARK_GREEN)
    cv2.rectangle(image, (x, y + int(150 * scale)), (x + w, y + int(175 * scale)), ORANGE, -1)
    text(image, "De Linde", (x + int(24 * scale), y + int(60 * scale)), 1.2 * scale, WHITE, 2)
    text(image, "Klantenpas", (x + int(24 * scale), y + int(100 * scale)), 0.8 * scale, CREAM, 1)
    for radius in (18, 34, 50):  # the contactless sign
        cv2.ellipse(image, (x + int(270 * scale), y + int(75 * scale)), (int(radius * scale), int(radius * scale)),
                    0, -45, 45, WHITE, max(2, int(5 * scale)), cv2.LINE_AA)


def product_photo(draw: Callable[[np.ndarray], None]) -> np.ndarray:
    image = canvas(PRODUCT_SIZE, (250, 250, 248), (215, 222, 226))
    cv2.ellipse(image, (300, 520), (210, 30), 0, 0, 360, (190, 196, 200), -1, cv2.LINE_AA)
    draw(image)
    return image


PRODUCTS: dict[str, Callable[[], np.ndarray]] = {
    "products/gazonmest-5kg.jpg": lambda: product_photo(lambda im: fertiliser_bag(im, (300, 330), 1.25, 5)),
    "products/gazonmest-10kg.jpg": lambda: product_photo(lambda im: fertiliser_bag(im, (300, 320), 1.25, 10)),
    "products/gazonmest-20kg.jpg": lambda: product_photo(lambda im: fertiliser_bag(im, (300, 310), 1.25, 20)),
    "products/maaierolie.jpg": lambda: product_photo(lambda im: bottle(im, (300, 320), 1.2)),
    "products/snoeischaar.jpg": lambda: product_photo(lambda im: shears(im, (330, 300), 1.2, 0.45, -0.5)),
    "products/tuinhandschoenen.jpg": lambda: product_photo(
        lambda im: (glove(im, (215, 330), 1.1), glove(im, (390, 350), 1.1, mirror=True))),
}


# --------------------------------------------------------------------------- attract slides


def slide_spring() -> np.ndarray:
    image = canvas(SLIDE_SIZE, (150, 215, 175), (40, 120, 60))
    grass(image, (0, 1280), 720, 70, 1.0, seed=3, count=260)
    text(image, "Voorjaarsactie", (70, 140), 2.6, WHITE, 5)
    text(image, "op alle gazonmest", (74, 215), 1.5, CREAM, 3)
    text(image, "5, 10 en 20 kg  -  t/m 31 mei 2027", (76, 275), 1.0, CREAM, 2)
    cv2.circle(image, (1050, 190), 140, (30, 60, 25), -1, cv2.LINE_AA)
    cv2.circle(image, (1040, 180), 140, ORANGE, -1, cv2.LINE_AA)
    text(image, "-10%", (1040, 210), 3.0, WHITE, 7, "center")
    for index, kilos in enumerate((5, 10, 20)):
        fertiliser_bag(image, (230 + index * 320, 520), 0.8, kilos)
    return image


def slide_gloves() -> np.ndarray:
    image = canvas(SLIDE_SIZE, (205, 235, 250), (120, 190, 230))
    glove(image, (950, 400), 1.6)
    glove(image, (1120, 430), 1.6, (80, 120, 200), mirror=True)
    text(image, "Gratis", (70, 170), 3.0, DARK_GREEN, 6)
    text(image, "tuinhandschoenen", (70, 270), 2.0, DARK_GREEN, 4)
    text(image, "bij besteding vanaf €50", (74, 360), 1.5, INK, 3)
    rounded_rect(image, (70, 440), (640, 530), 30, ORANGE)
    text(image, "Vraag ze aan de kassa", (355, 500), 1.2, WHITE, 2, "center")
    return image


def slide_card() -> np.ndarray:
    image = canvas(SLIDE_SIZE, (60, 110, 45), (25, 60, 20))
    card(image, (760, 170), 1.3)
    text(image, "Spaar bij elke aankoop", (70, 170), 2.0, WHITE, 4)
    text(image, "10 punten per euro", (74, 250), 1.5, CREAM, 3)
    text(image, "Brons, zilver, goud:", (74, 330), 1.2, CREAM, 2)
    text(image, "meer voordeel per niveau", (74, 380), 1.2, CREAM, 2)
    rounded_rect(image, (70, 470), (680, 560), 30, ORANGE)
    text(image, "Vraag uw klantenpas aan", (375, 530), 1.2, WHITE, 2, "center")
    return image


SLIDES: dict[str, Callable[[], np.ndarray]] = {
    "attract/voorjaar-gazonmest.png": slide_spring,
    "attract/handschoenen-vanaf-50.png": slide_gloves,
    "attract/klantenpas.png": slide_card,
}


# --------------------------------------------------------------------------- instruction videos


def title_card(title: str, subtitle: str, t: float, seed: int) -> np.ndarray:
    """A title over a lawn that grows during the first second."""
    frame = canvas(VIDEO_SIZE, (200, 230, 215), (60, 140, 80))
    grass(frame, (0, 640), 360, int(20 + 40 * min(1.0, t)), 1.0, seed=seed, count=140)
    text(frame, title, (320, 150), 1.3, DARK_GREEN, 3, "center")
    text(frame, subtitle, (320, 200), 0.9, INK, 2, "center")
    return frame


def step_frame(step: int, steps: int, caption: str, progress: float) -> np.ndarray:
    """A step's background: sky, header 'Stap n van m', caption band and a progress bar."""
    frame = canvas(VIDEO_SIZE, SKY, (215, 235, 230))
    cv2.rectangle(frame, (0, 250), (640, 300), (60, 120, 70), -1)
    cv2.rectangle(frame, (0, 0), (640, 40), DARK_GREEN, -1)
    text(frame, f"Stap {step} van {steps}", (16, 28), 0.75, WHITE, 2)
    cv2.rectangle(frame, (0, 300), (640, 360), CREAM, -1)
    text(frame, caption, (320, 340), 0.85, INK, 2, "center")
    cv2.rectangle(frame, (0, 354), (int(640 * progress), 360), ORANGE, -1)
    return frame


def lawn_step(step: int, local: float) -> np.ndarray:
    """Frame of 'Gazon bemesten' step ``step`` (1..4) at ``local`` 0..1 of the step."""
    captions = {1: "Maai het gazon kort: 3 tot 4 cm", 2: "Strooi de mest gelijkmatig: 20 m² per kg",
                3: "Geef direct daarna water", 4: "Na 2 weken: dicht en groen gazon"}
    frame = step_frame(step, 4, captions[step], local)
    ground = 255
    if step == 1:
        mower_x = int(-60 + 760 * local)
        grass(frame, (0, 640), ground, 55, 0.45, seed=11, count=150, cut_until=mower_x, cut_height=14)
        rounded_rect(frame, (mower_x - 60, ground - 50), (mower_x + 40, ground - 10), 10, RED)
        cv2.line(frame, (mower_x - 55, ground - 45), (mower_x - 120, ground - 120), INK, 4, cv2.LINE_AA)
        cv2.line(frame, (mower_x - 135, ground - 120), (mower_x - 105, ground - 120), INK, 6, cv2.LINE_AA)
        for wheel in (mower_x - 45, mower_x + 25):
            cv2.circle(frame, (wheel, ground - 8), 12, (30, 30, 30), -1, cv2.LINE_AA)
    elif step == 2:
        grass(frame, (0, 640), ground, 16, 0.45, seed=11, count=150)
        spreader_x = int(40 + 540 * local)
        rng = np.random.default_rng(22)
        drops = rng.uniform(0, 560, 400)
        for x, y in zip(drops, rng.uniform(ground - 4, ground + 40, 400), strict=True):
            if x < spreader_x - 20:
                cv2.circle(frame, (int(x + 30), int(y)), 2, (230, 235, 240), -1)
        for index in range(6):  # granules in the air
            fall = (local * 40 + index / 6) % 1.0
            cv2.circle(frame, (spreader_x + (index % 3 - 1) * 12, int(ground - 40 + fall * 40)), 3, WHITE, -1)
        cv2.fillPoly(frame, [np.array([(spreader_x - 40, ground - 110), (spreader_x + 40, ground - 110),
                                       (spreader_x + 15, ground - 50), (spreader_x - 15, ground - 50)], np.int32)],
                     GREEN, cv2.LINE_AA)
        text(frame, "MEST", (spreader_x, ground - 80), 0.5, WHITE, 1, "center")
        cv2.line(frame, (spreader_x + 40, ground - 100), (spreader_x + 100, ground - 170), INK, 4, cv2.LINE_AA)
        cv2.circle(frame, (spreader_x, ground - 30), 18, (30, 30, 30), 4, cv2.LINE_AA)
    elif step == 3:
        grass(frame, (0, 640), ground, 16, 0.55, seed=11, count=150)
        cv2.ellipse(frame, (320, 80), (150, 35), 0, 0, 360, WHITE, -1, cv2.LINE_AA)
        cv2.ellipse(frame, (250, 95), (80, 30), 0, 0, 360, WHITE, -1, cv2.LINE_AA)
        cv2.ellipse(frame, (400, 95), (90, 30), 0, 0, 360, WHITE, -1, cv2.LINE_AA)
        rng = np.random.default_rng(33)
        columns, phases = rng.uniform(180, 460, 40), rng.uniform(0, 1, 40)
        for x, phase in zip(columns, phases, strict=True):
            y = 115 + ((local * 6 + phase) % 1.0) * (ground - 115)
            cv2.line(frame, (int(x), int(y)), (int(x - 3), int(y + 12)), (200, 120, 40), 2, cv2.LINE_AA)
    else:
        grass(frame, (0, 640), ground, int(16 + 30 * local), 0.55 + 0.45 * local, seed=11, count=190)
        centre = (560, 90)
        cv2.circle(frame, centre, 34, (40, 210, 250), -1, cv2.LINE_AA)
        for ray in range(8):
            a = ray * math.pi / 4 + local
            cv2.line(frame, (int(centre[0] + 44 * math.cos(a)), int(centre[1] + 44 * math.sin(a))),
                     (int(centre[0] + 60 * math.cos(a)), int(centre[1] + 60 * math.sin(a))), (40, 210, 250), 3,
                     cv2.LINE_AA)
    return frame


def lawn_video(t: float) -> np.ndarray:
    """'Gazon bemesten in 4 stappen' at ``t`` seconds: title 3 s, four steps of 5 s, closing card 3 s."""
    if t < 3:
        return title_card("Gazon bemesten", "in 4 stappen", t, seed=5)
    if t < 23:
        step, local = divmod(t - 3, 5)
        return lawn_step(int(step) + 1, local / 5)
    frame = title_card("Tip: bemest in maart en juni", "Tuincentrum De Linde", 1.0, seed=5)
    return frame


def pruning_video(t: float) -> np.ndarray:
    """'Snoeien met de snoeischaar' at ``t`` seconds: title 2 s, two steps of 3 s."""
    if t < 2:
        return title_card("Snoeien met de snoeischaar", "in 2 stappen", t, seed=6)
    if t < 5:
        local = (t - 2) / 3
        frame = step_frame(1, 2, "Knip schuin, 5 mm boven een knop", local)
        cv2.line(frame, (120, 250), (420, 80), BROWN, 12, cv2.LINE_AA)
        cv2.ellipse(frame, (300, 150), (12, 7), -30, 0, 360, GREEN, -1, cv2.LINE_AA)  # the bud
        shears(frame, (330, 150), 0.7, 0.6 * (1 - min(1.0, local * 1.6)), math.pi * 0.9)
        return frame
    local = (t - 5) / 3
    frame = step_frame(2, 2, "Maak de schaar schoon en olie de veer", local)
    shears(frame, (360, 160), 0.8, 0.5, -0.3)
    for index in range(3):
        fall = (local * 3 + index / 3) % 1.0
        cv2.circle(frame, (360, int(60 + fall * 90)), 5, (30, 150, 215), -1, cv2.LINE_AA)
    bottle(frame, (150, 170), 0.45)
    return frame


VIDEOS: dict[str, tuple[Callable[[float], np.ndarray], float]] = {
    "videos/gazon-bemesten.mp4": (lawn_video, 26.0),
    "videos/snoeien.mp4": (pruning_video, 8.0),
}
POSTERS: dict[str, Callable[[], np.ndarray]] = {
    "posters/gazon-bemesten.jpg": lambda: lawn_video(1.5),
    "posters/snoeien.jpg": lambda: pruning_video(1.5),
}


# --------------------------------------------------------------------------- the brand's logo


def logo() -> np.ndarray:
    """The store's logo for the top bar (``brand.logo``): a linden leaf on a cream disc, on transparency
    (BGRA), so it sits on the bar's colour."""
    size = 240
    image = np.zeros((size, size, 4), np.uint8)
    centre = (size // 2, size // 2)
    cv2.circle(image, centre, size // 2 - 4, (*CREAM, 255), -1, cv2.LINE_AA)
    leaf = np.array([(120, 40), (168, 70), (190, 120), (170, 170), (120, 200), (70, 170), (50, 120),
                     (72, 70)], np.int32)
    cv2.fillPoly(image, [leaf], (*GREEN, 255), cv2.LINE_AA)
    cv2.line(image, (120, 60), (120, 214), (*DARK_GREEN, 255), 7, cv2.LINE_AA)
    for offset in (95, 130, 165):
        cv2.line(image, (120, offset + 10), (82, offset - 14), (*DARK_GREEN, 255), 4, cv2.LINE_AA)
        cv2.line(image, (120, offset + 10), (158, offset - 14), (*DARK_GREEN, 255), 4, cv2.LINE_AA)
    return image


BRAND: dict[str, Callable[[], np.ndarray]] = {"brand/logo.png": logo}


# --------------------------------------------------------------------------- writing


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.stem}.part{path.suffix}")  # same suffix: OpenCV picks the format by it


def write_image(path: Path, image: np.ndarray) -> None:
    """Write ``image`` as ``path`` (its suffix picks the format), never leaving half a file there."""
    part = _temporary(path)
    params = [cv2.IMWRITE_JPEG_QUALITY, 88] if path.suffix.lower() in (".jpg", ".jpeg") else []
    if not cv2.imwrite(str(part), image, params):
        raise RuntimeError(f"OpenCV could not write {part}")
    os.replace(part, path)


def write_video(path: Path, draw: Callable[[float], np.ndarray], seconds: float) -> None:
    """Write ``seconds`` of frames ``draw(t)`` as an MPEG-4 video, never leaving half a file there."""
    part = _temporary(path)
    writer = cv2.VideoWriter(str(part), cv2.VideoWriter_fourcc(*"mp4v"), FPS, VIDEO_SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MPEG-4 video {part} (no FFmpeg backend?)")
    try:
        for index in range(round(seconds * FPS)):
            writer.write(draw(index / FPS))
    finally:
        writer.release()
    os.replace(part, path)


def media() -> dict[str, Callable[[Path], None]]:
    """Every generated file (pack-relative) and how to write it."""
    made: dict[str, Callable[[Path], None]] = {}
    for name, draw in {**PRODUCTS, **SLIDES, **POSTERS, **BRAND}.items():
        made[name] = lambda path, draw=draw: write_image(path, draw())
    for name, (draw, seconds) in VIDEOS.items():
        made[name] = lambda path, draw=draw, seconds=seconds: write_video(path, draw, seconds)
    return made


def build_media(folder: Path, force: bool = False) -> None:
    """Create the pack's media in ``folder`` that are missing (all of them with ``force``).

    :raises RuntimeError: when OpenCV cannot write an image or a video.
    """
    folder = Path(folder)
    for name, write in media().items():
        path = folder / name
        if path.exists() and not force:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
        logger.info("made %s", path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw the demo content pack's media (images and videos).")
    parser.add_argument("--out", type=Path, default=HERE, help="Folder to write into (default: beside this file).")
    parser.add_argument("--force", action="store_true", help="Write every file again, also the ones that exist.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build_media(args.out, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
