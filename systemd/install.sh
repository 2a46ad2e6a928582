#!/bin/sh
# Installs, upgrades or removes Connected Store on a Raspberry Pi OS Bookworm or Debian 12 machine.
#
#   sudo systemd/install.sh --role kiosk              # the agent and the kiosk on tty1
#   sudo systemd/install.sh --role shelf              # the agent for a smart shelf (camera only)
#   sudo systemd/install.sh --role broker             # the store's Mosquitto with our configuration
#   sudo systemd/install.sh --role broker --role console --provision "--store ID --devices ..."  # + the console
#   sudo systemd/install.sh --role kiosk --upgrade    # the checkout's version beside the running one
#   sudo systemd/install.sh --uninstall [--purge]
#
# Everything is done by install.py beside this file (Python's standard library only: the system's
# python3 runs it before any virtual environment exists); `install.py --help` lists the options.
set -eu
command -v python3 >/dev/null 2>&1 || { echo "$0: needs python3 (apt-get install python3 python3-venv)" >&2; exit 2; }
exec python3 "$(dirname "$0")/install.py" "$@"
