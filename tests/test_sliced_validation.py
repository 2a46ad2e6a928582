"""Batched pushes validated a slice of records at a time: the same payload, the same errors, as in one go."""

import json

import pytest

from edge_agent.contract import PUSHES, decode, encode, gtin_check_digit
from edge_agent.errors import ContractError
from edge_agent.sliced_validation import SLICE, validate_in_slices


def product(n: int, version: int = 3) -> dict:
    body = f"8712{n:08d}"
    return {"gtin": "0" + body + str(gtin_check_digit(body)), "version": version, "name": {"nl": f"Product {n}"},
            "price_cents": 100 + n, "category": f"cat-{n % 20}", "stock": n % 50}


def raw(products: list[dict]) -> bytes:
    document = json.loads(encode(PUSHES["catalogue"], {"products": [product(0)]})[1])
    document["data"] = {"products": products}
    return json.dumps(document).encode()


def both(payload: bytes):
    """(decoded in one go, decoded in slices), each the payload or the ContractError's text."""
    results = []
    for validate in (None, validate_in_slices):
        try:
            results.append(decode(PUSHES["catalogue"], payload, validate=validate).payload)
        except ContractError as exc:
            results.append(str(exc))
    return results


def test_catalogue_of_many_records_validated_in_slices_is_the_same_payload_as_validated_in_one_go():
    products = [product(n) for n in range(SLICE * 10 + 7)]
    whole, sliced = both(raw(products))
    assert not isinstance(whole, str) and whole == sliced
    pauses = []
    validate_in_slices(PUSHES["catalogue"].model, {"products": products}, between=lambda: pauses.append(1))
    assert len(pauses) == 11, "other work may run between the slices"


@pytest.mark.parametrize("broken", [
    pytest.param(lambda p: p[333].update(price_cents=-1), id="a record's field, in a later slice"),
    pytest.param(lambda p: p[120].update(colour="red"), id="an unknown key of a record"),
    pytest.param(lambda p: p.__setitem__(400, dict(p[7])), id="a repeated product (the message's own check)"),
    pytest.param(lambda p: p.extend(product(2000 + n) for n in range(1000)), id="more records than allowed"),
])
def test_catalogue_broken_anywhere_is_refused_in_slices_with_the_same_error_naming_its_position(broken):
    products = [product(n) for n in range(SLICE * 10)]
    broken(products)
    whole, sliced = both(raw(products))
    assert isinstance(whole, str) and whole == sliced


def test_message_with_an_unknown_key_beside_its_records_is_refused_in_slices_as_in_one_go():
    document = json.loads(raw([product(n) for n in range(SLICE * 3)]))
    document["data"]["extra"] = 1
    whole, sliced = both(json.dumps(document).encode())
    assert isinstance(whole, str) and whole == sliced
