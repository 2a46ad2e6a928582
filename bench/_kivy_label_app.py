"""The minimal Kivy apps the kiosk benchmarks compare with (run as a separate process on the same display).

Hello world (``kiosk_idle.py``'s baseline)::

    python bench/_kivy_label_app.py --size 800x480

A label fed over MQTT (``kiosk_tap_to_frame.py``'s baseline): raw paho
(TCP_NODELAY) subscribed to ``--topic``; a message ``{"k": key, "name": …}``
sets the label to a greeting through ``Clock.schedule_once`` (as the kiosk's
bridge does), ``{"k": key, "end": true}`` empties it. The frame that first
shows each change is stamped with the kiosk's own :class:`kiosk.diagnostics.FrameLog`,
so both sides are timed the same way::

    python bench/_kivy_label_app.py --size 800x480 --port 1883 --topic bench/label --frame-log frames.jsonl

The window settings are the kiosk's (``kiosk.cli.run``): not fullscreen, no
multitouch emulation, no exit on Escape, and the kiosk's OpenGL anti-aliasing
(``--multisamples``, passed by ``_gui.py``: under software GL it sets the cost
of every frame); the window sits at the top left.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path

from _kivy_window import configure_window

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")

# The hello world imports nothing else (no paho, no project code): the idle baseline is Kivy alone.


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="800x480")
    p.add_argument("--port", type=int, default=None, help="broker port; without it, a hello-world label")
    p.add_argument("--topic", default="bench/label")
    p.add_argument("--frame-log", type=Path, default=None)
    p.add_argument("--multisamples", default="0", choices=["0", "2", "4"])
    args = p.parse_args()
    configure_window(args.size, args.multisamples)

    from kivy.app import App
    from kivy.clock import Clock
    from kivy.uix.label import Label

    class LabelApp(App):
        title = "baseline"

        def build(self):
            from kivy.core.window import Window

            self.label = Label(text="" if args.port else "Hello world", font_size=36)
            self.frames = self.client = None
            if args.frame_log:
                import _common  # noqa: F401 - puts the project on sys.path

                from kiosk.diagnostics import FrameLog

                self.frames = FrameLog(args.frame_log, Window)
            if args.port:
                import _common as common

                self.client = common.raw_client(f"bench-label-{os.getpid()}")
                self.client.on_message = self._on_message
                common.connect(self.client, args.port)
                common.subscribe(self.client, args.topic, qos=1)
            return self.label

        def _on_message(self, client, userdata, message):
            data = json.loads(message.payload)
            Clock.schedule_once(lambda _dt: self._show(data), 0)

        def _show(self, data: dict) -> None:
            if data.get("end"):
                self.label.text = ""
            else:
                self.label.text = f"Goedemiddag {data['name']}"
            if self.frames is not None:
                self.frames.update(None if data.get("end") else data["k"], not data.get("end"),
                                   "bereik" if data.get("end") else "begrijp")

        def on_stop(self):
            if self.client is not None:
                self.client.disconnect()
                self.client.loop_stop()

    app = LabelApp()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: Clock.schedule_once(lambda _dt: app.stop(), 0))
    app.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
