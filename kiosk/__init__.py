"""The Connected Store kiosk: a Kivy touchscreen view of what the edge agent publishes.

``kiosk.state`` decides what shows (no Kivy), ``kiosk.bridge`` is the MQTT
link, ``kiosk.app`` the Kivy app, ``kiosk.cli`` the ``kiosk`` command.
Importing this package imports no Kivy.
"""
