"""The bare video player ``kiosk_idle.py`` compares the kiosk's video attract loop with (run as its own process).

    python bench/_kivy_video_app.py --size 800x480 --video videos/gazon-bemesten.mp4

One Kivy ``Video`` widget on ffpyplayer (the kiosk's video provider), muted and looping, placed and sized
as the kiosk's attract player is (``kiosk/screens/bereik.py``: the full width, the top 78 % of the window,
``fit_mode`` contain), nothing else in the window: what playing that file at that size costs in Kivy.
The window settings are the kiosk's, as in ``_kivy_label_app.py`` (not fullscreen, ``--multisamples``,
top left so it never overlaps the kiosk's window on the benchmark's display).
"""

from __future__ import annotations

import argparse
import os
import signal

from _kivy_window import configure_window

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
os.environ.setdefault("KIVY_VIDEO", "ffpyplayer")

# Kivy and ffpyplayer alone: no paho, no project code.


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="800x480")
    p.add_argument("--video", required=True)
    p.add_argument("--multisamples", default="0", choices=["0", "2", "4"])
    args = p.parse_args()
    configure_window(args.size, args.multisamples)

    from kivy.app import App
    from kivy.clock import Clock
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.video import Video

    class Player(Video):
        def texture_update(self, *largs) -> None:  # as the kiosk's AttractVideo: no attempt to load a still
            if self.preview:
                super().texture_update(*largs)

    class VideoApp(App):
        title = "baseline"

        def build(self):
            root = FloatLayout()
            self.player = Player(source=args.video, state="play", volume=0, options={"eos": "loop"},
                                 fit_mode="contain", size_hint=(1, 0.78), pos_hint={"x": 0, "y": 0.22})
            root.add_widget(self.player)
            return root

        def on_stop(self):
            self.player.unload()  # ffpyplayer's threads would keep the process alive

    app = VideoApp()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: Clock.schedule_once(lambda _dt: app.stop(), 0))
    app.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
