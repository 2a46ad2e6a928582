"""A simulated chain of three stores: provisioned store brokers, each with an agent process and its data,
bridged over TLS with client certificates to one central Mosquitto (tests/support/chain.py; bench/chain.py
runs twenty). A chain-wide offers push reaches every store; central's broker restarted while the stores send
events loses none of them end to end."""

from __future__ import annotations

import threading
import time

import pytest

from tests.support.chain import Chain, catalogue, gtin, wait_until

STORES = 3
PRODUCTS = 50
EVENTS_PER_STORE = 60


@pytest.fixture
def chain(tmp_path):
    chain = Chain(tmp_path, STORES)
    try:
        chain.start(timeout=120)
        for store in chain.stores:
            chain.push(store.id, "catalogue", catalogue(PRODUCTS))
        assert wait_until(lambda: all(store.count("products") == PRODUCTS for store in chain.stores), 60), \
            "every store's catalogue came over its bridge"
        yield chain
    finally:
        chain.close()


def test_a_chain_wide_offers_push_is_applied_by_every_store(chain):
    for version in (1, 2, 3):
        chain.push_offers("o-chain-spring", version, gtin(1))
        assert wait_until(lambda v=version: chain.applied_everywhere("o-chain-spring", v), 60), \
            [store.offer_version("o-chain-spring") for store in chain.stores]


def test_central_restarted_while_stores_send_events_loses_none_end_to_end(chain):
    restarted = threading.Event()
    rounds = {"sent": 0, "after_restart": 0}

    def stream() -> None:
        # Events go on before, during and after the restart: at least EVENTS_PER_STORE rounds, and at least
        # 20 rounds once central is back, however fast this machine is.
        while rounds["sent"] < EVENTS_PER_STORE or rounds["after_restart"] < 20:
            for store in chain.stores:
                chain.send_feedback(store, f"fb-{rounds['sent']}")
            rounds["sent"] += 1
            if restarted.is_set():
                rounds["after_restart"] += 1
            time.sleep(0.05)

    sender = threading.Thread(target=stream, name="chain-events")
    sender.start()
    assert wait_until(lambda: chain.events_received() >= STORES * 10, 60), "events reach central before the restart"
    chain.restart_central(down_s=2.0)  # the bridges queue while central is away
    restarted.set()
    sender.join(120)
    expected = rounds["sent"]
    assert wait_until(lambda: chain.events_received() >= expected * STORES, 180, 0.2)
    per_store = {store: len(ids) for store, ids in chain.events.items()}
    assert per_store == {store.id: expected for store in chain.stores}, \
        f"lost across the restart: {expected * STORES - chain.events_received()} ({per_store})"
    assert wait_until(lambda: all(store.outbox_depth() == 0 for store in chain.stores), 60), \
        "every agent's outbox drained"
