"""The kiosk's window settings, for the bare Kivy apps the kiosk benchmarks compare with.

Not fullscreen, no multitouch emulation, no exit on Escape, the kiosk's OpenGL
anti-aliasing (``multisamples``: under software GL it sets the cost of every
frame), and the window at the top left: the kiosk is centred by SDL, so the two
windows never overlap on the benchmarks' display. Imports Kivy's config only,
so a baseline that uses it stays Kivy alone.
"""

from __future__ import annotations


def configure_window(size: str, multisamples: str) -> None:
    """Set Kivy's window config for ``size`` (``WxH``); call before any other Kivy import."""
    from kivy.config import Config

    width, height = size.split("x")
    Config.set("graphics", "fullscreen", "0")
    Config.set("graphics", "width", width)
    Config.set("graphics", "height", height)
    Config.set("graphics", "multisamples", multisamples)
    Config.set("graphics", "position", "custom")
    Config.set("graphics", "left", "0")
    Config.set("graphics", "top", "0")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
