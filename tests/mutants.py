"""Mutants of the README's delivery and privacy promises: each breaks one promise on purpose; a test must fail.

Run on a clean work tree (it edits the source in place and restores each file after its run)::

    .venv/bin/python -m tests.mutants            # every mutant
    .venv/bin/python -m tests.mutants D9 P4a     # some

For each mutant it runs the named test files with ``-x`` and prints KILLED (a test failed, named) or
SURVIVED. A survivor means a promise no test holds: write the test (``tests/test_promises.py`` holds those
written so far). P9 survives by design: nfcpy sets its own logger to INFO when imported, so the agent's
guard only matters once something lowers it (``set-log-level``), which the log redaction's tests cover.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (id, promise, file, text to replace, replacement, test files that must catch it)
MUTANTS: list[tuple[str, str, str, str, str, list[str]]] = [
    # id, promise, file, old, new, tests
    (
        "D1a",
        "outbox committed at synchronous=FULL before sent",
        "edge_agent/outbox.py",
        "        with self._store.transaction(durable=True) as conn:\n            if self._rows >= self.max_rows",
        "        with self._store.transaction() as conn:\n            if self._rows >= self.max_rows",
        ["tests/test_outbox.py"],
    ),
    (
        "D1b",
        "outbox committed at synchronous=FULL before sent",
        "edge_agent/store.py",
        '                self.conn.execute("PRAGMA synchronous=FULL")',
        '                self.conn.execute("PRAGMA synchronous=NORMAL")',
        ["tests/test_outbox.py"],
    ),
    (
        "D2a",
        "sent with QoS 1",
        "edge_agent/link.py",
        "info = client.publish(pending.topic, pending.payload, qos=1)",
        "info = client.publish(pending.topic, pending.payload, qos=0)",
        ["tests/test_smoke_link.py", "tests/test_link_reliability.py"],
    ),
    (
        "D2b",
        "sent in order",
        "edge_agent/outbox.py",
        '"SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?"',
        '"SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY random() LIMIT ?"',
        ["tests/test_outbox.py"],
    ),
    (
        "D3",
        "deleted only after PUBACK",
        "edge_agent/link.py",
        "            self._inflight[info.mid] = pending.seq\n",
        "            self._inflight[info.mid] = pending.seq\n            self._settled.append(pending.seq)\n",
        ["tests/test_link_reliability.py"],
    ),
    (
        "D4",
        "after a reconnect sent again from the first unacknowledged event",
        "edge_agent/link.py",
        "                self._inflight_client = client\n                self._cursor = 0\n",
        "                self._inflight_client = client\n",
        ["tests/test_link_reliability.py"],
    ),
    (
        "D5a",
        "when full the OLDEST telemetry is dropped",
        "edge_agent/outbox.py",
        '"SELECT seq FROM outbox WHERE critical = 0 ORDER BY seq LIMIT 1"',
        '"SELECT seq FROM outbox WHERE critical = 0 ORDER BY seq DESC LIMIT 1"',
        ["tests/test_outbox.py"],
    ),
    (
        "D5b",
        "dropped telemetry counted in health",
        "edge_agent/outbox.py",
        "        self.dropped_telemetry += 1\n",
        "        self.dropped_telemetry += 0\n",
        ["tests/test_outbox.py"],
    ),
    (
        "D6",
        "critical events never dropped",
        "edge_agent/outbox.py",
        '"SELECT seq FROM outbox WHERE critical = 0 ORDER BY seq LIMIT 1"',
        '"SELECT seq FROM outbox ORDER BY seq LIMIT 1"',
        ["tests/test_outbox.py"],
    ),
    (
        "D6b",
        "consent events are critical (never dropped)",
        "edge_agent/contract/catalogue.py",
        '"A customer gave or withdrew consent at this device.", delivery=DeliveryClass.CRITICAL',
        '"A customer gave or withdrew consent at this device.", delivery=DeliveryClass.TELEMETRY',
        ["tests/test_outbox.py", "tests/test_contract.py", "tests/test_sessions.py", "tests/test_privacy.py"],
    ),
    (
        "D7",
        "pushes validated before they touch state",
        "edge_agent/contract/codec.py",
        "        payload = message.model.model_validate(envelope.data)",
        "        payload = message.model.model_construct(**envelope.data)",
        ["tests/test_inbox.py", "tests/test_central_catalogue.py"],
    ),
    (
        "D8a",
        "applied in one transaction",
        "edge_agent/store.py",
        '                    self.conn.execute("ROLLBACK")\n                    raise',
        '                    self.conn.execute("COMMIT")\n                    raise',
        ["tests/test_outbox.py", "tests/test_central_catalogue.py"],
    ),
    (
        "D8b",
        "duplicates ignored",
        "edge_agent/inbox.py",
        'if conn.execute("SELECT 1 FROM inbox_seen WHERE id = ?", (message_id,)).fetchone():',
        'if False and conn.execute("SELECT 1 FROM inbox_seen WHERE id = ?", (message_id,)).fetchone():',
        ["tests/test_inbox.py"],
    ),
    (
        "D9",
        "acknowledged to the broker only after it was applied",
        "edge_agent/link.py",
        "            try:\n                self._on_message_handler(item)",
        (
            "            if item.qos > 0:\n                item.client.ack(item.mid, item.qos)\n"
            "            try:\n                self._on_message_handler(item)"
        ),
        [
            "tests/test_promises.py",
            "tests/test_link_reliability.py",
            "tests/test_central_catalogue.py",
            "tests/test_inbox.py",
        ],
    ),
    (
        "D10",
        "an older version never overwrites a newer one",
        "edge_agent/central.py",
        "    if version < row[0]:\n        raise RejectedMessage",
        "    if False:\n        raise RejectedMessage",
        ["tests/test_inbox.py", "tests/test_central_catalogue.py"],
    ),
    (
        "D11a",
        "a bad message gets an event/error upstream",
        "edge_agent/inbox.py",
        '            self._outbox.enqueue("error", ErrorEvent(',
        '            (lambda *a: None)("error", ErrorEvent(',
        ["tests/test_inbox.py"],
    ),
    (
        "D11b",
        "the rejection's log line never has the payload",
        "edge_agent/inbox.py",
        "            self.reject(item.topic, message_id, str(exc))\n            return\n        message_id = decoded",
        (
            "            self.reject(item.topic, message_id, str(exc) + ' ' +"
            " item.payload.decode(errors='replace'))\n            return\n        message_id = decoded"
        ),
        ["tests/test_inbox.py", "tests/test_inbox_fuzz.py"],
    ),
    (
        "P1a",
        "UID never logged (hex)",
        "edge_agent/sessions.py",
        'logger.info("card tap: %s at assurance %s", decision.outcome.value, identified.assurance.value)',
        (
            'logger.info("card tap: %s at assurance %s %s", decision.outcome.value,'
            " identified.assurance.value, read.uid.hex())"
        ),
        ["tests/test_sessions.py", "tests/test_recognition_e2e.py"],
    ),
    (
        "P1b",
        "UID never logged (upper case with colons)",
        "edge_agent/sessions.py",
        'logger.info("card tap: %s at assurance %s", decision.outcome.value, identified.assurance.value)',
        (
            'logger.info("card tap: %s at assurance %s %s", decision.outcome.value,'
            ' identified.assurance.value, ":".join(f"{b:02X}" for b in read.uid))'
        ),
        ["tests/test_sessions.py", "tests/test_recognition_e2e.py"],
    ),
    (
        "P1c",
        "UID never stored (token is an HMAC)",
        "edge_agent/identity.py",
        'return "k-" + hmac.new(key, uid, hashlib.sha256).hexdigest()',
        'return "k-" + (uid.hex() * 10)[:64]',
        ["tests/test_identity.py", "tests/test_sessions.py"],
    ),
    (
        "P2",
        "SUN read counter must rise (replay rejected)",
        "edge_agent/sessions.py",
        "if row[0] is not None and result.counter <= row[0]:",
        "if row[0] is not None and result.counter < row[0]:",
        ["tests/test_sessions.py", "tests/test_recognition_e2e.py"],
    ),
    (
        "P3",
        "[privacy] says which categories may be shown at each assurance",
        "edge_agent/identity.py",
        "    may_show = frozenset(policy.get(assurance, frozenset()))",
        "    may_show = frozenset(Category)",
        ["tests/test_identity.py", "tests/test_sessions.py"],
    ),
    (
        "P4a",
        "session never retained",
        "edge_agent/agent.py",
        "lambda topic, payload: self.link.publish(topic, payload, qos=1)",
        "lambda topic, payload: self.link.publish(topic, payload, qos=1, retain=True)",
        ["tests/test_key_rotation.py", "tests/test_recognition_e2e.py"],
    ),
    (
        "P4b",
        "session never bridged",
        "edge_agent/provisioning/acl.py",
        "    return [m for m in ALL_MESSAGES if m.bridged and m.direction == direction and rights(m).publishers]",
        ("    return [m for m in ALL_MESSAGES if (m.bridged or m.name == \"session\") and m.direction == direction\n"
         "            and rights(m).publishers]"),
        ["tests/test_bridge_config.py", "tests/test_bridge_tls.py"],
    ),
    (
        "P5",
        "recognised only with an unexpired recognition consent",
        "edge_agent/privacy.py",
        "    return until is not None and now < until",
        "    return until is not None",
        ["tests/test_privacy.py", "tests/test_identity.py"],
    ),
    (
        "P6a",
        "withdrawal erases the customer's local data",
        "edge_agent/privacy.py",
        '("customers", "customer"), ("consents", "customer"), ("orders", "customer"),',
        '("customers", "customer"), ("consents", "customer"),',
        ["tests/test_privacy.py"],
    ),
    (
        "P6b",
        "withdrawal sends consent events upstream",
        "edge_agent/privacy.py",
        '        outbox.enqueue("consent", ConsentEvent(customer=customer, purpose=purpose, granted=False, until=None,',
        (
            '        (lambda *a: None)("consent", ConsentEvent(customer=customer,'
            " purpose=purpose, granted=False, until=None,"
        ),
        ["tests/test_privacy.py", "tests/test_sessions.py"],
    ),
    (
        "P7",
        "erasure requests from central are acknowledged",
        "edge_agent/central.py",
        '    outbox.enqueue("erasure-ack", ErasureAckEvent(',
        '    (lambda *a: None)("erasure-ack", ErasureAckEvent(',
        [
            "tests/test_privacy.py",
            "tests/test_inbox.py",
            "tests/test_central_catalogue.py",
            "tests/test_recognition_e2e.py",
        ],
    ),
    (
        "P8",
        "every use of a customer's data is logged for them",
        "edge_agent/sessions.py",
        '                self.log_use(decision.customer, "recognised", sorted(decision.may_show))',
        "                pass",
        ["tests/test_sessions.py"],
    ),
    (
        "P9",
        "nfcpy's own DEBUG logging (UIDs) is held at INFO",
        "edge_agent/nfc/reader.py",
        "        if nfc_logger.level < logging.INFO:",
        "        if False:",
        ["tests/test_key_rotation.py", "tests/test_recognition_e2e.py", "tests/test_nfc_reader.py"],
    ),
    (
        "R1",
        "rotation: a card enrolled under the previous key is recognised during the window",
        "edge_agent/identity.py",
        "        if self.previous is None or self.previous_until is None or now >= self.previous_until:",
        "        if True:",
        ["tests/test_key_rotation.py"],
    ),
    (
        "R2",
        "rotation: after the window the previous key is not used",
        "edge_agent/identity.py",
        "        if self.previous is None or self.previous_until is None or now >= self.previous_until:",
        "        if self.previous is None or self.previous_until is None:",
        ["tests/test_key_rotation.py"],
    ),
    (
        "R2b",
        "rotation: a window over at start leaves the previous key unused",
        "edge_agent/credentials.py",
        "    if now >= rotation_until:",
        "    if False:",
        ["tests/test_key_rotation.py"],
    ),
    (
        "R3",
        "rotation: re-linked locally, re-link event sent once",
        "edge_agent/privacy.py",
        (
            '    if conn.execute("UPDATE card_links SET card = ? WHERE card = ?", (new,'
            " old)).rowcount == 0:\n        return False"
        ),
        (
            '    if conn.execute("SELECT 1 FROM card_links WHERE card = ?",'
            " (old,)).fetchone() is None:\n        return False"
        ),
        ["tests/test_key_rotation.py"],
    ),
    (
        "R4",
        "rotation: the SUN replay guard survives the rotation",
        "edge_agent/privacy.py",
        '        conn.execute("DELETE FROM sun_counters WHERE card = ?", (old,))',
        '        conn.execute("DELETE FROM sun_counters WHERE card IN (?, ?)", (old, new))',
        ["tests/test_key_rotation.py"],
    ),
    (
        "B1",
        "store broker: a device's logins reach their own device's topics only",
        "edge_agent/provisioning/acl.py",
        "    if login.role in DEVICE_ROLES:\n        return [message.topic_for(plan.store, login.device or \"\")]\n",
        "",
        ["tests/test_broker_acl.py"],
    ),
    (
        "B2",
        "bridge: central refuses a revoked store certificate",
        "edge_agent/provisioning/mosquitto_config.py",
        "crlfile {etc}/{CENTRAL_CRL}\n",
        "",
        ["tests/test_bridge_tls.py"],
    ),
    (
        "B3",
        "store broker: a client's id is its login on the LAN listener too",
        "edge_agent/provisioning/mosquitto_config.py",
        "listener {plan.tls_port} {plan.lan_address}\nuse_username_as_clientid true\n",
        "listener {plan.tls_port} {plan.lan_address}\n",
        ["tests/test_broker_acl.py"],
    ),
    (
        "B4",
        "central: a store's bridge cannot take over another store's bridge connection",
        "edge_agent/provisioning/mosquitto_config.py",
        "use_identity_as_username true\nuse_username_as_clientid true\n",
        "use_identity_as_username true\n",
        ["tests/test_bridge_tls.py"],
    ),
]


def run(selected: set[str]) -> list[tuple[str, bool, list[str]]]:
    """Apply, test and restore each selected mutant (all when ``selected`` is empty); (id, killed, failed)."""
    results = []
    for mid, _promise, file, old, new, tests in MUTANTS:
        if selected and mid not in selected:
            continue
        path = ROOT / file
        text = path.read_text()
        if old not in text:
            raise SystemExit(f"{mid}: the mutated text is no longer in {file}: update the mutant")
        path.write_text(text.replace(old, new, 1))
        try:
            started = time.monotonic()
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", *tests, "-x", "-q", "-p", "no:cacheprovider"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=900,
            )
            failed = [line.split(" ")[1] for line in proc.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
            results.append((mid, proc.returncode != 0, failed))
            print(
                mid,
                "KILLED" if proc.returncode else "SURVIVED",
                *failed,
                f"({time.monotonic() - started:.0f} s)",
                flush=True,
            )
        finally:
            path.write_text(text)
    return results


if __name__ == "__main__":
    run(set(sys.argv[1:]))
