"""The MQTT contract and its AsyncAPI document agree, and the document is valid.

``docs/asyncapi.yaml`` is generated from the ``edge_agent.contract`` package; these
tests fail when it is stale, when the official AsyncAPI CLI rejects it, when
an example does not fit its schema, and when code outside the contract builds
topics of its own.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import inspect
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from jsonschema import Draft7Validator
from pydantic import BaseModel
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from edge_agent import contract
from edge_agent.config import TierName
from edge_agent.contract import ALL_MESSAGES, COMMANDS, EVENTS, RESPONSES, ResponseEnvelope, Topics
from edge_agent.contract.asyncapi import _embed, build_document, render_yaml
from edge_agent.errors import ContractError
from kiosk import content as kiosk_content
from kiosk import i18n as kiosk_i18n
from kiosk import state as kiosk_state
from kiosk.content import Localized
from kiosk.texts import LANGUAGE_NAMES

ROOT_DIR = Path(__file__).resolve().parent.parent
DOC_PATH = ROOT_DIR / "docs" / "asyncapi.yaml"
REGENERATE = "edge-agent contract asyncapi -o docs/asyncapi.yaml"
# The newest AsyncAPI CLI that runs on Node 20 (5.x and later need Node 24).
ASYNCAPI_CLI = "@asyncapi/cli@4.1.1"
DOC_URI = "urn:connected-store:asyncapi"
STORE, DEVICE = "store-7", "kiosk-3"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The committed document, as every consumer reads it."""
    return yaml.safe_load(DOC_PATH.read_text(encoding="utf-8"))


def payload_validator(document: dict[str, Any], message: str) -> Draft7Validator:
    """A validator of ``message``'s payload whose ``$ref``s resolve inside ``document``.

    AsyncAPI's default schema format is a superset of JSON Schema draft-07.
    """
    registry = Registry().with_resource(DOC_URI, Resource.from_contents(document, default_specification=DRAFT7))
    return Draft7Validator({"$ref": f"{DOC_URI}#/components/messages/{message}/payload"}, registry=registry,
                           format_checker=Draft7Validator.FORMAT_CHECKER)


def errors_of(validator: Draft7Validator, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in validator.iter_errors(instance)]


# --------------------------------------------------------------------------- the document itself


def test_committed_document_is_generated_from_the_contract():
    assert DOC_PATH.exists(), f"docs/asyncapi.yaml is missing; generate it with `{REGENERATE}`"
    assert DOC_PATH.read_text(encoding="utf-8") == render_yaml(), (
        f"docs/asyncapi.yaml is stale: regenerate it with `{REGENERATE}`")


def test_rendering_is_deterministic_and_yaml_round_trips():
    assert render_yaml() == render_yaml()
    # Nothing turns into a date, a number or an alias on the way through YAML.
    assert yaml.safe_load(render_yaml()) == json.loads(json.dumps(build_document()))


@pytest.mark.timeout(660)
def test_official_asyncapi_cli_accepts_the_document_without_warnings(tmp_path):
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx is not on PATH: install Node.js 20+ to validate docs/asyncapi.yaml with the AsyncAPI CLI")
    # The CLI sends usage metrics and checks for updates unless told not to;
    # a test must neither phone home nor wait on a prompt.
    analytics = tmp_path / "asyncapi-analytics.json"
    analytics.write_text(json.dumps({"analyticsEnabled": "false", "infoMessageShown": "true",
                                     "userID": "connected-store-tests"}))
    env = {**os.environ, "ASYNCAPI_METRICS_CONFIG_PATH": str(analytics), "ASYNCAPI_SKIP_NEW_VERSION_CHECK": "true",
           "CI": "true", "NO_COLOR": "1", "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    result = subprocess.run(
        [npx, "--yes", ASYNCAPI_CLI, "validate", str(DOC_PATH.relative_to(ROOT_DIR)), "--fail-severity", "warn"],
        cwd=ROOT_DIR, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{ASYNCAPI_CLI} validate failed ({result.returncode}):\n{output}"
    assert "is valid" in output, output


def test_every_reference_resolves_and_no_pydantic_defs_remain(document):
    def walk(node: Any, where: str):
        if isinstance(node, dict):
            assert "$defs" not in node, f"{where}: $defs left in the document"
            ref = node.get("$ref")
            if ref is not None:
                assert ref.startswith("#/"), f"{where}: external reference {ref!r}"
                target: Any = document
                for part in ref[2:].split("/"):
                    assert isinstance(target, dict) and part in target, f"{where}: {ref!r} does not resolve"
                    target = target[part]
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(document, "#")


def test_embedding_moves_definitions_and_refuses_clashing_names():
    schemas: dict[str, Any] = {}
    first = {"properties": {"a": {"$ref": "#/$defs/A"}, "b": {"$ref": "#/$defs/A", "description": "B"},
                            "default": {"items": {"$ref": "#/$defs/A"}}},
             "default": {"$ref": "kept: an instance, not a schema"},
             "$defs": {"A": {"type": "string"}}}
    embedded = _embed(first, schemas, "first")
    assert schemas == {"A": {"type": "string"}}
    assert embedded["properties"]["a"] == {"$ref": "#/components/schemas/A"}
    # draft-07 ignores the siblings of a $ref
    assert embedded["properties"]["b"] == {"description": "B", "allOf": [{"$ref": "#/components/schemas/A"}]}
    assert embedded["properties"]["default"]["items"] == {"$ref": "#/components/schemas/A"}
    assert embedded["default"] == first["default"]
    _embed({"$defs": {"A": {"type": "string"}}}, schemas, "same")
    with pytest.raises(ContractError, match="'A' differs"):
        _embed({"$defs": {"A": {"type": "integer"}}}, schemas, "second")
    with pytest.raises(ContractError, match="prefixItems"):
        _embed({"prefixItems": [{"type": "string"}]}, schemas, "third")


# --------------------------------------------------------------------------- messages, channels, operations


def test_every_message_has_its_channel_operation_and_bindings(document):
    for message in ALL_MESSAGES:
        channel = document["channels"].get(message.name)
        assert channel is not None, f"{message.name} has no channel"
        assert channel["address"] == message.topic
        assert set(channel["parameters"]) == set(contract.TOPIC_PLACEHOLDER.findall(message.topic))
        assert channel["messages"] == {message.name: {"$ref": f"#/components/messages/{message.name}"}}
        action = "send" if message.direction == "publish" else "receive"
        operation = document["operations"][f"{action}-{message.name}"]
        assert operation["action"] == action
        assert operation["channel"] == {"$ref": f"#/channels/{message.name}"}
        assert operation["bindings"]["mqtt"]["qos"] == message.qos
        assert operation["bindings"]["mqtt"]["retain"] == message.retained
        payload = document["components"]["messages"][message.name]["payload"]
        assert payload["properties"]["schema"]["const"] == message.schema_id
    assert len(document["channels"]) == len(document["operations"]) == len(ALL_MESSAGES)


def test_every_command_operation_names_its_reply(document):
    for name in COMMANDS:
        reply = document["operations"][f"receive-request-{name}"]["reply"]
        assert reply["channel"] == {"$ref": f"#/channels/response-{name}"}


def test_personal_data_is_never_retained(document):
    for message in ALL_MESSAGES:
        if message.personal:
            assert not message.retained, f"{message.name} carries personal data and is retained"
            tags = {tag["name"] for tag in document["components"]["messages"][message.name]["tags"]}
            assert "personal-data" in tags


# --------------------------------------------------------------------------- examples and payload schemas


def test_every_example_fits_its_payload_schema_and_the_code(document):
    for name, message_doc in document["components"]["messages"].items():
        validator = payload_validator(document, name)
        examples = message_doc.get("examples")
        assert examples, f"{name} has no example"
        for example in examples:
            errors = errors_of(validator, example["payload"])
            assert not errors, f"example {example['name']!r} of {name}: {errors}"
    for message in ALL_MESSAGES:
        example = document["components"]["messages"][message.name]["examples"][0]["payload"]
        raw = json.dumps(example).encode()
        if message.model is ResponseEnvelope:
            assert ResponseEnvelope.model_validate_json(raw).status == "ok"
        else:
            contract.decode(message, raw)


def test_freshly_encoded_messages_fit_the_document(document):
    """Real messages, with new ids and times, not only the stored examples."""
    for message in ALL_MESSAGES:
        if message.model is ResponseEnvelope:
            continue  # their examples are made by encode_response already
        transaction = "tx-1" if message.response is not None else None
        _, raw = contract.encode(message, message.example, transaction=transaction)
        errors = errors_of(payload_validator(document, message.name), json.loads(raw))
        assert not errors, f"{message.name}: {errors}"
    for command in COMMANDS:
        raw = contract.encode_response(command, "tx-1", error="something went wrong")
        errors = errors_of(payload_validator(document, RESPONSES[command].name), json.loads(raw))
        assert not errors, f"response-{command}: {errors}"


def _example(document: dict[str, Any], message: str, name: str = "example") -> dict[str, Any]:
    examples = document["components"]["messages"][message]["examples"]
    return copy.deepcopy(next(example["payload"] for example in examples if example["name"] == name))


@pytest.mark.parametrize(("message", "example", "path"), [
    ("order", "example", ("data",)),
    ("order", "example", ("data", "pickup")),
    ("order", "example", ("data", "items", 0)),
    ("order", "example", ()),
    ("state", "example", ("data",)),
    ("event-consent", "example", ("data",)),
    ("request-set-log-level", "example", ("data",)),
    ("response-ping", "ok", ("data",)),
    ("response-ping", "ok", ()),
])
def test_schemas_refuse_unknown_keys(document, message, example, path):
    validator = payload_validator(document, message)
    instance = _example(document, message, example)
    assert not errors_of(validator, instance)
    target = instance
    for part in path:
        target = target[part]
    target["surprise"] = 1
    assert errors_of(validator, instance), f"{message}: an unknown key at {path or '(root)'} was accepted"


def test_schemas_refuse_wrong_values(document):
    order = _example(document, "order")
    order["data"]["status"] = "teleported"
    assert errors_of(payload_validator(document, "order"), order)
    state = _example(document, "state")
    state["schema"] = "state/2"
    assert errors_of(payload_validator(document, "state"), state)
    request = _example(document, "request-ping")
    del request["transaction"]
    assert errors_of(payload_validator(document, "request-ping"), request), "a command needs a transaction"


# --------------------------------------------------------------------------- descriptions and result examples


def _payload_models() -> set[type[BaseModel]]:
    """Every payload and result model of the catalogue."""
    models = {message.model for message in ALL_MESSAGES if message.model is not ResponseEnvelope}
    return models | {message.response for message in ALL_MESSAGES if message.response is not None}


def test_every_payload_model_has_a_docstring_that_becomes_its_schema_description():
    undocumented = sorted(model.__name__ for model in _payload_models()
                          if not model.__doc__ or model.model_json_schema().get("description") != inspect.cleandoc(
                              model.__doc__))
    assert not undocumented, f"payload models without a docstring (their schema description): {undocumented}"


def test_every_payload_and_shared_schema_in_the_document_has_a_description(document):
    for name, message in document["components"]["messages"].items():
        data = message["payload"]["properties"]["data"]
        data = data["anyOf"][0] if name.startswith("response-") else data
        assert data.get("description"), f"{name}: its payload has no description"
    missing = sorted(name for name, schema in document["components"]["schemas"].items()
                     if not schema.get("description"))
    assert not missing, f"shared schemas without a description: {missing}"


def test_every_command_declares_an_example_of_its_result_that_fits_its_model():
    for name, command in COMMANDS.items():
        assert command.response is not None and command.result_example is not None, name
        command.response.model_validate(command.result_example)


def test_a_command_without_an_example_of_its_result_is_refused_when_declared():
    ping = COMMANDS["ping"]
    with pytest.raises(ValueError, match="example"):
        dataclasses.replace(ping, result_example=None)
    with pytest.raises(ValueError, match="example"):
        dataclasses.replace(contract.STATE, result_example={"pong": True})


# --------------------------------------------------------------------------- constants the contract owns


def test_the_languages_are_one_list_that_every_per_language_model_follows():
    assert contract.LANGUAGES == get_args(contract.Language) == ("nl", "en", "fr")
    for model in (contract.LocalText, TierName):
        assert tuple(model.model_fields) == contract.LANGUAGES, model.__name__
    assert tuple(field.name for field in dataclasses.fields(Localized)) == contract.LANGUAGES
    assert tuple(LANGUAGE_NAMES) == contract.LANGUAGES
    assert kiosk_content.LANGUAGES is kiosk_i18n.LANGUAGES is kiosk_state.LANGUAGES is contract.LANGUAGES


def test_a_message_over_the_limit_is_refused_unread_and_one_at_the_limit_is_parsed():
    with pytest.raises(ContractError, match=f"too large .*at most {contract.MESSAGE_LIMIT}"):
        contract.parse_envelope(b"{" + b" " * contract.MESSAGE_LIMIT)
    with pytest.raises(ContractError, match="not JSON"):
        contract.parse_envelope(b"{" + b" " * (contract.MESSAGE_LIMIT - 1))


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param(b'{"transaction": "tx-1", "data": {"broken": true}}', "tx-1", id="broken-data"),
    pytest.param(b'{"transaction": "tx-1", "schema": 7}', "tx-1", id="broken-envelope"),
    pytest.param(b'{"transaction": "' + b"t" * 128 + b'"}', "t" * 128, id="longest"),
    pytest.param(b'{"transaction": "' + b"t" * 129 + b'"}', None, id="too-long"),
    pytest.param(b'{"transaction": ""}', None, id="empty"),
    pytest.param(b'{"transaction": 12}', None, id="not-a-string"),
    pytest.param(b'{"transaction": "t-\\ud800"}', None, id="lone-surrogate"),
    pytest.param(b'["tx-1"]', None, id="not-an-object"),
    pytest.param(b'{"transaction": "tx-1"', None, id="not-json"),
    pytest.param(b'{"transaction": "tx-\xff"}', None, id="not-utf-8"),
    pytest.param(b'{"transaction": "tx-1", "n": ' + b"7" * 5000 + b"}", None, id="number-too-long"),
    pytest.param(b"[" * 100_000, None, id="nested-too-deeply"),
])
def test_the_transaction_of_a_broken_message_is_read_when_it_could_be_sent_back(raw, expected):
    assert contract.transaction_of(raw) == expected


# --------------------------------------------------------------------------- topics come from the contract

# Names in the catalogue that hold topic pieces; concatenating them elsewhere builds a topic.
TOPIC_PIECES = {"ROOT", "CENTRAL", "DEVICE", "CENTRAL_TOPIC", "LOCAL", "device_root", "central_root"}
# `cs/` starting a word: in 'cs/#' or "cs/v1/...", not in "docs/".
TOPIC_PREFIX = re.compile(r"(?<![\w.-])" + re.escape(contract.ROOT.split("/")[0] + "/"))
TOPIC_FRAGMENTS = ("/request/", "/response/", "/event/", f"/{contract.CENTRAL}/")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _names_a_topic_piece(node: ast.AST) -> bool:
    return ((isinstance(node, ast.Name) and node.id in TOPIC_PIECES)
            or (isinstance(node, ast.Attribute) and node.attr in TOPIC_PIECES))


def _spells_or_builds_a_topic(node: ast.AST, docstrings: set[int]) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and id(node) not in docstrings and bool(TOPIC_PREFIX.search(node.value))
    if isinstance(node, ast.JoinedStr):  # f"{ROOT}/#", f"{prefix}/request/{name}"
        for value in node.values:
            if isinstance(value, ast.FormattedValue) and any(map(_names_a_topic_piece, ast.walk(value.value))):
                return True
            if isinstance(value, ast.Constant) and any(part in value.value for part in TOPIC_FRAGMENTS):
                return True
        return False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # topics.central_root + name
        return _names_a_topic_piece(node.left) or _names_a_topic_piece(node.right)
    return False


def topic_literals(path: Path) -> list[str]:
    """``file:line: text`` of each place in ``path`` that spells or builds a topic."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, str(path))
    docstrings = _docstrings(tree)
    found: dict[int, str] = {}
    for node in ast.walk(tree):
        if _spells_or_builds_a_topic(node, docstrings):
            found.setdefault(node.lineno, ast.get_source_segment(source, node) or "?")
    label = path.relative_to(ROOT_DIR) if path.is_relative_to(ROOT_DIR) else path
    return [f"{label}:{line}: {text}" for line, text in sorted(found.items())]


SCANNER_SAMPLE = '''\
"""A docstring may show cs/v1/{store}/{device}/state."""
from edge_agent.contract import ROOT
spelled = "cs/v1/store-1/kiosk-1/state"
joined = f"{ROOT}/#"
added = topics.central_root + name
formatted = f"{prefix}/request/{name}"
path = "docs/asyncapi.yaml"
fine = topics.event("tap")
parsed = topic.removeprefix(topics.central_root)
'''


def test_topic_scanner_finds_spelled_and_built_topics_only(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(SCANNER_SAMPLE)
    lines = [int(found.split(":")[1]) for found in topic_literals(sample)]
    assert lines == [3, 4, 5, 6]


# The catalogue owns every topic; the AsyncAPI renderer reads topic pieces to describe them. Every other
# file is scanned, the rest of the contract package (payloads, codec, ...) included.
CONTRACT_PACKAGE = ROOT_DIR / "edge_agent" / "contract"
TOPIC_MODULES = {CONTRACT_PACKAGE / "catalogue.py", CONTRACT_PACKAGE / "asyncapi.py"}


def test_no_code_outside_the_catalogue_spells_or_builds_a_topic():
    assert all(path.is_file() for path in TOPIC_MODULES), "the topic modules moved: update TOPIC_MODULES"
    scanned = [path for path in sorted((ROOT_DIR / "edge_agent").rglob("*.py")) if path not in TOPIC_MODULES]
    assert any(path.is_relative_to(CONTRACT_PACKAGE) for path in scanned), "the contract's other modules are scanned"
    offenders = [found for path in scanned for found in topic_literals(path)]
    assert not offenders, ("topics must come from edge_agent/contract/catalogue.py (Topics, Message.topic_for); "
                           "found:\n" + "\n".join(offenders))


def _channel_topics(document: dict[str, Any]) -> dict[str, str]:
    return {channel["address"].format(store=STORE, device=DEVICE): name
            for name, channel in document["channels"].items()}


def _matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic filter matching (``+`` one level, ``#`` the rest)."""
    levels = topic.split("/")
    for index, part in enumerate(topic_filter.split("/")):
        if part == "#":
            return True
        if index >= len(levels) or part not in ("+", levels[index]):
            return False
    return len(topic_filter.split("/")) == len(levels)


def test_every_topic_of_topics_is_a_channel(document):
    topics = Topics(STORE, DEVICE)
    channels = _channel_topics(document)
    public = {name for name, _ in inspect.getmembers(Topics, inspect.isfunction) if not name.startswith("_")}
    assert public == {"event", "response", "subscriptions", "classify"}, (
        "Topics changed: teach this test about its new methods")
    for name, value in vars(topics).items():
        if name in ("store", "device"):
            continue
        if name.endswith("_root"):
            assert any(topic.startswith(value) and topic != value for topic in channels), f"{name}: {value}"
        else:
            assert value in channels, f"Topics.{name} = {value!r} is not in the document"
    for name in EVENTS:
        assert topics.event(name) in channels
    for command in COMMANDS:
        assert topics.response(command) in channels


def test_subscriptions_cover_everything_the_agent_receives(document):
    topics = Topics(STORE, DEVICE)
    channels = _channel_topics(document)
    filters = [topic_filter for topic_filter, _ in topics.subscriptions()]
    for topic_filter in filters:
        assert any(_matches(topic_filter, topic) for topic in channels), f"{topic_filter} matches no channel"
    # The demo's controls are received by `edge-agent demo`, never by the agent.
    received = {topic: name for topic, name in channels.items()
                if document["operations"].get(f"receive-{name}") and name != contract.DEMO_CONTROL.name
                } | {topics.probe: "probe"}
    for topic, name in received.items():
        assert any(_matches(topic_filter, topic) for topic_filter in filters), f"nothing subscribes to {name}"
        kind, message = topics.classify(topic)
        assert kind != "unknown" and message is not None and message.name == name, (topic, kind, message)
