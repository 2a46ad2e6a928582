"""The cards, customers and keys the tests share, each written once.

The UIDs and customer ids are those of ``config/central-fixtures.example.yaml``
(the demo's garden centre), so a test that pushes the example file and one
that builds its own state speak of the same people. Tests that give a card
another role in their own state (``04111111111111`` is Piet's card in the
example, a card with an expired consent in the session tests) say so where
they import it.
"""

from __future__ import annotations

SANNE_UID = bytes.fromhex("04A1B2C3D4E5F6")  # Sanne: goud, opted in (an NXP NTAG21x-like UID)
PIET_UID = bytes.fromhex("04111111111111")  # Piet: zilver, opted in
STAFF_UID = bytes.fromhex("04222222222222")  # Anna's staff badge (s-anna)
UNKNOWN_UID = bytes.fromhex("04333333333333")  # a card linked to no one

SANNE = "c-0000000000000000000000000000a001"
PIET = "c-0000000000000000000000000000a002"

# A customer id of the contract's form (`c-<hex>`) for tests that need one but no fixtures.
CUSTOMER = "c-5f2b8c0e6d1a4f3b9c7e2a1d0b3c4e5f"
# The customer the end-to-end tests that build their own state link their gold card to.
E2E_CUSTOMER = "c-0000000000000000000000000000b001"

# The store's card-token key (CS_STORE_HMAC_KEY) and the SUN keys of tests that need fixed ones, in hex.
STORE_HMAC_KEY_HEX = "5a" * 32
SUN_META_READ_KEY_HEX = "11" * 16
SUN_FILE_READ_MASTER_KEY_HEX = "22" * 16
