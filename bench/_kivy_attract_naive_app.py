"""The baseline of ``attract_transitions.py``: an attract loop that changes item when the item ends, as the kiosk
did before it made the next item ready ahead (and as most players do).

A bare Kivy app (no MQTT, no kiosk) looping a pack's attract items (``kiosk.content.load_pack``): at the end of
an item it sets the image widget's ``source`` (Kivy loads it then, on the UI thread), or shows the video's
player (one per video, kept, sought to its start) once it is loaded; the item before is hidden at once. Every
frame is read back like the kiosk's frame recorder does (``kiosk.frame_recorder.background_only``, the whole
window being its attract area) and written as the same JSON lines.

    python bench/_kivy_attract_naive_app.py --pack DIR --record FILE [--size 800x480] [--multisamples N]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_VIDEO", "ffpyplayer")

from kivy.config import Config  # after the environment Kivy reads at import

parser = argparse.ArgumentParser()
parser.add_argument("--pack", type=Path, required=True)
parser.add_argument("--record", type=Path, required=True)
parser.add_argument("--size", default="800x480")
parser.add_argument("--multisamples", default="2")
args = parser.parse_args()
width, height = args.size.split("x")
Config.set("graphics", "width", width)
Config.set("graphics", "height", height)
Config.set("graphics", "multisamples", args.multisamples)

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.graphics.opengl import GL_PACK_ALIGNMENT, GL_RGB, GL_UNSIGNED_BYTE, glPixelStorei, glReadPixels  # noqa: E402
from kivy.uix.floatlayout import FloatLayout  # noqa: E402
from kivy.uix.image import Image  # noqa: E402
from kivy.uix.video import Video  # noqa: E402

from kiosk.content import load_pack  # noqa: E402
from kiosk.frame_recorder import background_only  # noqa: E402
from kiosk.widgets import STANDARD  # noqa: E402


class NaiveLoop(App):
    def build(self):
        Window.clearcolor = STANDARD.background
        self.items = load_pack(args.pack).attract_items
        self.root_widget = FloatLayout()
        self.image = Image(fit_mode="contain", opacity=0)
        self.root_widget.add_widget(self.image)
        self.players: dict[str, Video] = {}
        self.index = -1
        self.shows = 0
        self.item = ""
        self.record = open(args.record, "a", encoding="utf-8")  # noqa: SIM115 - open for the app's lifetime
        self.count = 0
        Window.bind(on_flip=self.on_flip)
        Clock.schedule_once(self.next, 0)
        return self.root_widget

    def next(self, _dt) -> None:
        self.index += 1
        item = self.items[self.index % len(self.items)]
        for player in self.players.values():
            player.opacity, player.state = 0, "pause"
        if item.kind == "image":
            self.image.source = str(item.path)
            self.image.opacity = 1
        else:
            self.image.opacity = 0
            player = self.players.get(str(item.path))
            if player is None:
                player = self.players[str(item.path)] = Video(source=str(item.path), state="play", volume=0,
                                                              options={"eos": "loop"}, fit_mode="contain")
                player.bind(loaded=lambda widget, loaded: setattr(widget, "opacity", 1 if loaded else 0))
                self.root_widget.add_widget(player)
            else:
                player.seek(0)
                player.state = "play"
                player.opacity = 1 if player.loaded else 0
        self.shows += 1
        self.item = item.path.name
        Clock.schedule_once(self.next, item.seconds)

    def on_flip(self, *_args) -> bool:
        drawn = Clock.time()
        work_ms = (drawn - Clock.get_time()) * 1000
        width, height = (int(value) for value in Window.size)
        glPixelStorei(GL_PACK_ALIGNMENT, 1)
        pixels = glReadPixels(1, 1, width - 2, height - 2, GL_RGB, GL_UNSIGNED_BYTE)
        verdict = background_only(pixels, width - 2, height - 2, tuple(Window.clearcolor))
        self.count += 1
        self.record.write(json.dumps({"n": self.count, "t": time.time(), "work_ms": round(work_ms, 3),
                                      "read_ms": round((Clock.time() - drawn) * 1000, 3), "shows": self.shows,
                                      "item": self.item, "pack": "naive", "background_only": verdict}) + "\n")
        self.record.flush()
        return False

    def on_stop(self) -> None:
        for player in self.players.values():
            player.unload()
        self.record.close()


if __name__ == "__main__":
    NaiveLoop().run()
