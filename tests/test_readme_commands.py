"""Every ``edge-agent`` and ``kiosk`` command line the READMEs show runs: a reader who copies one gets no
``unrecognized arguments``.

The commands are taken from the code blocks (indented or fenced, ``$ `` prompts, ``\\`` continuations,
``&&`` chains and ``|`` pipes) and the inline code spans of ``README.md`` and ``kiosk/README.md``. A synopsis
is filled in: ``[optional parts]`` are all given, placeholders (``FILE``, ``URL``, ``HEX`` …) get a real value
of their kind, and the deployment paths under ``/etc/connected-store`` become the example configurations.

Each command is first parsed by its program's own argparse tree, as written, then run as a subprocess.
A command that would start a service or play on the network runs in its checking form instead: ``kiosk``
with ``--validate-config``, ``central push`` with ``--check``, ``run``, ``demo`` and ``card emulate`` with
``--help`` (their options have been parsed already).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.cli import build_parser as agent_parser
from edge_agent.cli import is_leaf, walk
from edge_agent.nfc.sun import SunKeys, sun_url
from kiosk.cli import build_parser as kiosk_parser
from tests.support.packs import demo_pack

ROOT = Path(__file__).resolve().parent.parent
READMES = [ROOT / "README.md", ROOT / "kiosk" / "README.md"]
PROGRAMS = ("edge-agent", "kiosk")
ZERO_KEY = "00" * 16
HMAC_KEY = "ab" * 32
# Commands that would keep running (a service, the demo) or play on a fixed UDP port: run with --help.
HELP_ONLY = {("run",), ("demo",), ("card", "emulate")}


def _sun_url() -> str:
    """A SUN URL that verifies with the all-zero keys, the file key derived from a master (``--master``)."""
    keys = SunKeys(bytes(16), bytes(16))
    return sun_url("https://shop.example/c", bytes.fromhex("04de5f1eacc040"), 61, keys)


# --------------------------------------------------------------------------- finding the commands


def _code_lines(text: str) -> list[str]:
    """The lines of every code block: fenced (```), or indented by four spaces after a blank line."""
    lines: list[str] = []
    fenced = in_block = False
    previous_blank = True
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced, in_block, previous_blank = not fenced, False, False
            continue
        if fenced:
            lines.append(line)
            continue
        blank = not line.strip()
        if line.startswith("    ") and not blank and (in_block or previous_blank):
            in_block = True
            lines.append(line)
        elif not blank:
            in_block = False
        previous_blank = blank
    return lines


def _segments(command: str) -> list[str]:
    """The parts of a shell line that run one program each (split at ``&&``, ``;`` and ``|``)."""
    return [part.strip() for part in re.split(r"&&|\|\||;|\|", command) if part.strip()]


def _program_words(segment: str) -> list[str] | None:
    """The words of ``segment`` from the program on, when it runs edge-agent or kiosk (env assignments and a
    ``.venv/bin/`` path dropped), else None."""
    try:
        words = shlex.split(segment, comments=True)
    except ValueError:  # a quote opened on another line: a JSON payload, not a command
        return None
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        words.pop(0)
    program = words[0].rsplit("/", 1)[-1] if words else ""  # "kiosk/" is a folder, not the program
    if program not in PROGRAMS:
        return None
    return [program, *words[1:]]


def readme_commands() -> list[tuple[str, str]]:
    """(where, command as written) for every edge-agent and kiosk command line of the READMEs."""
    found = []
    for readme in READMES:
        text = readme.read_text(encoding="utf-8")
        name = readme.relative_to(ROOT)
        logical: list[str] = []
        for line in _code_lines(text):
            stripped = line.strip().removeprefix("$ ")
            if logical and (logical[-1].endswith("\\") or stripped.startswith("[")):
                logical[-1] = logical[-1].removesuffix("\\").rstrip() + " " + stripped
            else:
                logical.append(stripped)
        spans = re.findall(r"`((?:edge-agent|kiosk) [^`]+)`", text)
        for command in [*logical, *spans]:
            found.extend((f"{name}", segment) for segment in _segments(command)
                         if not segment.startswith("#") and _program_words(segment))
    return list(dict.fromkeys(found))


# --------------------------------------------------------------------------- filling in a synopsis


def _path(words: list[str], program: str) -> tuple[str, ...]:
    """The subcommand path at the start of ``words`` (after the program)."""
    if program == "kiosk":
        return ()
    commands = {path for path, _, _ in walk(agent_parser())}
    path: tuple[str, ...] = ()
    for word in words:
        if (*path, word) not in commands:
            break
        path = (*path, word)
    return path


def fill(words: list[str], tmp_path: Path) -> list[str]:
    """``words`` of a synopsis with every optional part given and every placeholder a real value."""
    program, rest = words[0], words[1:]
    path = _path(rest, program)
    flat = [word.strip("[]") for word in rest if word.strip("[]") and word.strip("[]") != "..."]
    config = {"validate-config": "agent.example.toml", "demo": "demo.toml", "run": "agent.example.toml",
              "verify-sun": "agent.example.toml"}.get(path[-1] if path else "", "kiosk.example.toml")
    values = {
        "FILE": str(ROOT / "config" / config),
        "FILE.yaml": str(ROOT / "config" / "central-fixtures.example.yaml"),
        "offers.yaml": str(ROOT / "config" / "central-fixtures.example.yaml"),
        "/etc/connected-store/agent.toml": str(ROOT / "config" / "agent.example.toml"),
        "/etc/connected-store/kiosk.toml": str(ROOT / "config" / "kiosk.example.toml"),
        "docs/asyncapi.yaml": str(tmp_path / "asyncapi.yaml"),  # not the project's own copy
        "URL": _sun_url(),
        "HEX": ZERO_KEY,
        "S": "1",
        "N": "18830",
        "DIR": str(tmp_path / "state"),
        # `edge-agent content`: the key and the manifest it writes go to tmp_path (never the source tree), the
        # pack is a copy of the demo's with its media drawn (make_media.py; they are not in git).
        "central-content.pem": str(tmp_path / "central-content.pem"),
        "manifest.json": str(tmp_path / "manifest.json"),
        "content/tuincentrum": str(tmp_path / "tuincentrum"),
    }
    filled = []
    for word in flat:
        option, equals, value = word.partition("=")
        if equals and option.startswith("-") and value in values:
            filled.append(f"{option}={values[value]}")
        else:
            filled.append(values.get(word, word))
    return [program, *filled]


def checking_form(argv: list[str]) -> list[str]:
    """``argv`` changed so that it checks instead of starting something that keeps running."""
    program, rest = argv[0], argv[1:]
    if program == "kiosk":
        return argv if "--validate-config" in rest else [*argv, "--validate-config"]
    path = _path(rest, program)
    commands = {path: parser for path, _, parser in walk(agent_parser())}
    if path in HELP_ONLY or not is_leaf(commands[path]):
        return [program, *path, "--help"]
    if path == ("central", "push") and not {"--check", "--print"} & set(rest):
        return [*argv, "--check"]
    if path == ("content", "publish") and "--print" not in rest:  # broker.example.com is nobody's broker
        return [*argv, "--print"]
    return argv


# --------------------------------------------------------------------------- the tests


def test_the_readmes_show_the_commands_a_reader_copies():
    commands = [command for _, command in readme_commands()]
    assert "edge-agent card emulate --device udp:localhost:54321 --uid 04A1B2C3D4E5F6" in commands
    assert any(command.startswith("kiosk --config FILE --validate-config") for command in commands)
    assert any(command.startswith("edge-agent demo [--config FILE]") and "--kiosk-arg" in command
               for command in commands), "a synopsis continued on the next line is one command"
    assert any("edge-agent central push config/central-fixtures.example.yaml --host" in command
               for command in commands), "a command continued with a backslash is one command"


def test_every_readme_command_parses_and_runs(tmp_path):
    demo_pack(tmp_path / "tuincentrum")
    failures = []
    for where, command in readme_commands():
        argv = fill(_program_words(command) or [], tmp_path)
        parser = agent_parser() if argv[0] == "edge-agent" else kiosk_parser()
        # A bare command name (`edge-agent central push` in a heading) is checked as the command's --help.
        bare = argv[0] == "edge-agent" and list(_path(argv[1:], argv[0])) == argv[1:]
        try:
            parser.parse_args([*argv[1:], "--help"] if bare else argv[1:])
        except SystemExit as exc:
            if exc.code != 0:  # an unknown option, a missing argument
                failures.append(f"{where}: {command}\n    argparse refused {shlex.join(argv)}")
                continue
        run = [*argv, "--help"] if bare else checking_form(argv)
        module = "edge_agent" if run[0] == "edge-agent" else "kiosk"
        result = subprocess.run([sys.executable, "-m", module, *run[1:]], capture_output=True, text=True,
                                cwd=ROOT, timeout=120, env=_environment(tmp_path))
        if result.returncode != 0:
            failures.append(f"{where}: {command}\n    ran {shlex.join(run)}: exit {result.returncode}\n"
                            f"    {result.stderr.strip()[-600:]}")
    assert not failures, "README commands that fail:\n" + "\n".join(failures)


def _environment(tmp_path: Path) -> dict[str, str]:
    import os

    environment = {name: value for name, value in os.environ.items() if not name.startswith("CS_")}
    return {**environment, "CS_STORE_HMAC_KEY": HMAC_KEY, "CREDENTIALS_DIRECTORY": str(tmp_path / "none")}


@pytest.mark.parametrize(("synopsis", "expected"), [
    ("edge-agent demo [--config FILE] [--no-kiosk] [--kiosk-arg=--size=1080x1920 ...]",
     ["edge-agent", "demo", "--config", str(ROOT / "config" / "demo.toml"), "--no-kiosk",
      "--kiosk-arg=--size=1080x1920"]),
    ("edge-agent validate-config FILE", ["edge-agent", "validate-config", str(ROOT / "config" / "agent.example.toml")]),
])
def test_a_synopsis_is_filled_with_every_optional_part_and_real_values(synopsis, expected, tmp_path):
    assert fill(_program_words(synopsis) or [], tmp_path) == expected
