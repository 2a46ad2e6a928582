"""Validating a batched push (catalogue, price list, offers, purchase history) a slice of records at a time.

pydantic validates a model in compiled code that holds the interpreter lock from start to end: a
500-record catalogue push holds it for 6-17 ms in one go, and every other thread of the agent waits
that long (paho's network thread reading a ``request/ping``, the command lane answering it). Validated
:data:`SLICE` records at a time, the lock is held for about a millisecond before the interpreter may hand
it to a waiting thread. The result is the same model, checked by the same rules: each slice is checked
by the record model, and then the whole message by its own model, whose list fields receive the already
validated records (pydantic takes a model instance as it is) and whose own checks (lengths, unique keys,
extra keys) run as before. A record that fails is reported by validating the whole message in one go,
so the error names its position in the message exactly as before (invalid pushes are rare; they may
take the lock for longer).
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

SLICE = 50  # records per slice: about 0.5-1.5 ms of validation on a Raspberry Pi-class core


@functools.cache
def batch_fields(model: type[BaseModel]) -> tuple[tuple[str, TypeAdapter, int | None], ...]:
    """``model``'s fields that are lists of records: (name, adapter of a list of its record model, maxItems)."""
    found = []
    for name, info in model.model_fields.items():
        if typing.get_origin(info.annotation) is not list:
            continue
        (item,) = typing.get_args(info.annotation)
        if not (isinstance(item, type) and issubclass(item, BaseModel)):
            continue
        most = next((constraint.max_length for constraint in info.metadata
                     if getattr(constraint, "max_length", None) is not None), None)
        adapter: TypeAdapter = TypeAdapter(list[item])  # type: ignore[valid-type]  # the record model, found at run time
        found.append((info.alias or name, adapter, most))
    return tuple(found)


def validate_in_slices(model: type[BaseModel], data: Any, between: Callable[[], None] | None = None) -> BaseModel:
    """``model.model_validate(data)``, with its lists of records validated :data:`SLICE` at a time.

    :param between: called after each slice (e.g. to let waiting work go first).
    :raises ValidationError: as ``model.model_validate(data)`` would, with the same errors.
    """
    fields = batch_fields(model)
    if not fields or not isinstance(data, dict):
        return model.model_validate(data)
    given = dict(data)
    for name, adapter, most in fields:
        records = given.get(name)
        if not isinstance(records, list) or len(records) <= SLICE or (most is not None and len(records) > most):
            continue  # small enough for one go, or refused by its length in one go
        validated: list[BaseModel] = []
        for start in range(0, len(records), SLICE):
            try:
                validated.extend(adapter.validate_python(records[start:start + SLICE]))
            except ValidationError:
                return model.model_validate(data)  # raises, naming the record's position in the message
            if between is not None:
                between()
        given[name] = validated
    return model.model_validate(given)
