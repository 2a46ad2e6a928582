"""Every command and option of ``edge-agent`` and ``kiosk`` has a help text, and ``--help`` works at every level
(as sqlite-utils' test_docs.py fails when a command has no help). The trees are walked, so a new command is
covered the day it is added."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.cli import build_parser as agent_parser
from edge_agent.cli import is_leaf, walk
from kiosk.cli import build_parser as kiosk_parser

ROOT = Path(__file__).resolve().parent.parent

AGENT_COMMANDS = [(path, help, parser) for path, help, parser in walk(agent_parser()) if path]


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in parser._actions
            if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)]


@pytest.mark.parametrize(("path", "help", "parser"), AGENT_COMMANDS, ids=[" ".join(c[0]) for c in AGENT_COMMANDS])
def test_every_agent_command_and_option_has_help_and_its_help_exits_0(path, help, parser, capsys):
    assert help, f"edge-agent {' '.join(path)} has no help in its parent's list"
    assert parser.description, f"edge-agent {' '.join(path)} has no description on its own --help"
    for action in _options(parser):
        assert action.help, f"edge-agent {' '.join(path)} {'/'.join(action.option_strings) or action.dest}: no help"
    with pytest.raises(SystemExit) as exited:
        agent_parser().parse_args([*path, "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    for action in _options(parser):
        assert (action.option_strings[-1] if action.option_strings else action.metavar or action.dest) in shown


def test_the_tree_holds_the_commands_that_once_passed_their_arguments_on():
    # `camera` and `card emulate` had parsers of their own: their options did not show and the README's
    # `card emulate --device ...` was refused.
    commands = {path: parser for path, _, parser in AGENT_COMMANDS}
    assert {"--device", "--uid", "--url", "--hold", "--taps", "--gap"} <= {
        option for action in commands[("card", "emulate")]._actions for option in action.option_strings}
    assert {"--formats", "--no-enhance"} <= {
        option for action in commands[("camera", "decode")]._actions for option in action.option_strings}
    args = agent_parser().parse_args(["card", "emulate", "--device", "udp:localhost:54321", "--uid", "04A1B2C3D4E5F6"])
    assert (args.device, args.uid) == ("udp:localhost:54321", bytes.fromhex("04A1B2C3D4E5F6"))


def test_edge_agent_help_lists_every_command_with_its_help():
    result = subprocess.run([sys.executable, "-m", "edge_agent", "--help"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    for path, help, parser in AGENT_COMMANDS:
        if is_leaf(parser):
            assert " ".join(path) in result.stdout and help.split()[0] in result.stdout, path


def test_every_kiosk_option_has_help_and_help_exits_0_without_loading_kivy():
    parser = kiosk_parser()
    assert parser.description
    for action in _options(parser):
        assert action.help, f"kiosk {'/'.join(action.option_strings)}: no help"
    # --help and --validate-config run without a display: Kivy is loaded only to open the window.
    for argv in (["--help"], ["--config", str(ROOT / "config" / "kiosk.example.toml"), "--validate-config"]):
        result = subprocess.run([sys.executable, "-c", WITHOUT_KIVY, *argv], capture_output=True, text=True,
                                cwd=ROOT, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == "exit 0, kivy not loaded", result.stdout


WITHOUT_KIVY = """
import sys
from kiosk.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(f"exit {code}, kivy {'loaded' if 'kivy' in sys.modules else 'not loaded'}")
"""
