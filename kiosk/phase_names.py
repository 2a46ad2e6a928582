"""The names of the Store Sales Cycle's phases in the shopper's or staff member's language.

The contract speaks of a phase by its word (``continue``, ``after-care``: :class:`edge_agent.contract.Phase`);
a screen that names one (the open calls list: at which phase a shopper asked for help) shows its name,
translated with the context ``phase`` (the Dutch names are the kiosk's screens: Bereik … Continueer).
"""

from __future__ import annotations

from edge_agent.contract import Phase

from .texts import Words


def phase_name(words: Words, phase: Phase, language: str) -> str:
    """``phase``'s name in ``language`` (``continue`` is "Continueer" in Dutch, "Continue" in English)."""
    names = {Phase.REACH: words.trp("phase", "Bereik", language),
             Phase.UNDERSTAND: words.trp("phase", "Begrijp", language),
             Phase.INSPIRE: words.trp("phase", "Inspireer", language),
             Phase.INFORM: words.trp("phase", "Informeer", language),
             Phase.CONVERT: words.trp("phase", "Converteer", language),
             Phase.AFTER_CARE: words.trp("phase", "Ontzorg", language),
             Phase.CONTINUE: words.trp("phase", "Continueer", language)}
    return names[phase]
