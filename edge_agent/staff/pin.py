"""PIN verifiers: salted argon2id hashes of staff PINs, and checking a typed PIN against one.

Central makes a staff member's verifier (:func:`hash_pin`, or any argon2 library with the same parameters)
and pushes it; the agent only ever verifies (:func:`verify_pin`). The PIN is never stored or sent upstream;
what a copied database gives an attacker is the verifier, and each guess then costs the hash's memory.

The parameters (:data:`PARAMETERS`): 64 MiB of memory per guess (the floor this project promises), one
pass, four lanes (a Raspberry Pi 4 has four cores; the memory an attacker needs is the same for any number
of lanes). ``bench/pin_verify.py`` measures a verification beside a bare argon2 call with the same
parameters and estimates the time on a Raspberry Pi 4 (``bench/README.md``). A pushed verifier is accepted
only within :data:`ACCEPTED`: a cheaper one would break the 64 MiB promise, a costlier one would keep a
kiosk's staff waiting (and a PIN pad could be used to load the device).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_PHC = re.compile(r"^\$argon2id\$v=19\$m=(?P<m>[0-9]+),t=(?P<t>[0-9]+),p=(?P<p>[0-9]+)"
                  r"\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")
PIN_PATTERN = re.compile(r"^[0-9]{4,8}$")


class PinVerifierError(ValueError):
    """A verifier that is not an argon2id PHC string this agent accepts (parameters out of bounds)."""


@dataclass(frozen=True)
class Parameters:
    """argon2id parameters: memory in KiB, passes, lanes, and the hash's and salt's lengths in bytes."""

    memory_kib: int
    time_cost: int
    parallelism: int
    hash_len: int = 32
    salt_len: int = 16

    @property
    def memory_mib(self) -> float:
        return self.memory_kib / 1024

    def hasher(self) -> PasswordHasher:
        """argon2-cffi's hasher with these parameters (argon2id)."""
        return PasswordHasher(time_cost=self.time_cost, memory_cost=self.memory_kib, parallelism=self.parallelism,
                              hash_len=self.hash_len, salt_len=self.salt_len, type=Type.ID)


PARAMETERS = Parameters(memory_kib=64 * 1024, time_cost=1, parallelism=4)
MIN_MEMORY_KIB = 64 * 1024  # every guess costs an attacker at least 64 MiB


@dataclass(frozen=True)
class Accepted:
    """The bounds of a pushed verifier's parameters."""

    memory_kib: tuple[int, int] = (MIN_MEMORY_KIB, 256 * 1024)
    time_cost: tuple[int, int] = (1, 4)
    parallelism: tuple[int, int] = (1, 8)


ACCEPTED = Accepted()


def parameters_of(verifier: str) -> Parameters:
    """The parameters of ``verifier``.

    :raises PinVerifierError: when it is not an argon2id PHC string, or its parameters are out of
        :data:`ACCEPTED` (the message names which and the bounds, never the verifier).
    """
    match = _PHC.match(verifier)
    if match is None:
        raise PinVerifierError("not an argon2id (v=19) PHC string")
    found = Parameters(memory_kib=int(match["m"]), time_cost=int(match["t"]), parallelism=int(match["p"]))
    for name, (low, high) in (("memory_kib", ACCEPTED.memory_kib), ("time_cost", ACCEPTED.time_cost),
                              ("parallelism", ACCEPTED.parallelism)):
        value = getattr(found, name)
        if not low <= value <= high:
            raise PinVerifierError(f"{name} {value} is outside {low}..{high} (memory_kib {MIN_MEMORY_KIB} is "
                                   "the 64 MiB per guess this project promises)")
    return found


def hash_pin(pin: str, parameters: Parameters = PARAMETERS) -> str:
    """A new verifier of ``pin`` (a fresh random salt each time): what central pushes.

    :raises ValueError: when ``pin`` is not 4 to 8 digits (the message does not repeat it).
    """
    if not PIN_PATTERN.match(pin):
        raise ValueError("a PIN is 4 to 8 digits")
    return parameters.hasher().hash(pin)


def verify_pin(verifier: str, pin: str) -> bool:
    """Whether ``pin`` is the PIN of ``verifier``; False for a mismatch and for a verifier that cannot be read.

    A PIN that is not 4 to 8 digits is still hashed (and fails): how long the answer takes says nothing.
    """
    try:
        parameters_of(verifier)
        ok = PARAMETERS.hasher().verify(verifier, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError, PinVerifierError):
        return False
    return bool(ok) and PIN_PATTERN.match(pin) is not None
