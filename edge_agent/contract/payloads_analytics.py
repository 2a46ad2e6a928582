"""Payloads of the kiosk's usage reports and of the anonymous hourly analytics the agent sends upstream.

The kiosk tells its agent, on local request topics, what it showed: one
:class:`ScreenReport` per screen a visit left (which screen, its phase, when it
came up, how long it was shown, whether it was touched) and one
:class:`PlayReport` per attract item that ended (proof of play). A visit is
named by a random id the kiosk draws for it (:data:`VisitId`): not the
agent's session id, not a card, not a customer; the agent uses it only in
memory, to put a visit's screens together, and never writes it anywhere.

The agent aggregates them, with what it sees itself (footfall, presence,
feedback, offer activations, staff calls), into hourly buckets
(:mod:`edge_agent.analytics`) and sends each complete hour upstream as
:class:`AnalyticsEvent`: counts and sums per metric and dimension, and for the
metrics that count sessions the number of sessions behind each row, never
fewer than the configured k (rows below k go into the day's remainder, or are
withheld: :mod:`edge_agent.analytics.kanon`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from .types import Payload, Phase

#: The kiosk's id of one visit: random, drawn by the kiosk per visit, known only to it and its agent's memory.
VisitId = Annotated[str, StringConstraints(pattern=r"^v-[0-9a-f]{12,32}$")]
#: A screen of the kiosk, as it names them (``informeer``, ``mijn-gegevens``).
ScreenName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z-]{0,31}$")]
#: An attract item's id in its pack, or ``builtin`` for the kiosk's own taglines.
ItemId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
#: A dimension value of an analytics row: a phase, a screen, an item, a score, a kind ("" for none).
Dimension = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{0,64}$")]


class VisitKind(StrEnum):
    """What kind of visit the kiosk had: by the session's outcome, or none (browsing without a card)."""

    RECOGNISED = "recognised"  # an opted-in customer's card or app code
    ANONYMOUS = "anonymous"  # a known card without recognition consent
    ENROLMENT = "enrolment"  # a card the store does not know: the invitation to join
    BROWSE = "browse"  # no card: someone touched the screen


class Metric(StrEnum):
    """What an analytics row counts (``count``), sums (``total``) and by what (``dim``)."""

    FOOTFALL = "footfall"  # people the camera counted; total: none
    PRESENCE = "presence"  # people who stood in front of the kiosk; total: dwell seconds
    ENGAGED = "engaged"  # presences during which a visit began (a touch or a tap)
    SESSIONS = "sessions"  # visits, by kind (dim); total: seconds
    PHASE_REACHED = "phase-reached"  # visits that reached a phase (dim); count: screens shown; total: seconds
    PHASE_EXIT = "phase-exit"  # visits that ended in a phase (dim)
    SCREEN = "screen"  # screens shown in visits (dim: the screen); total: seconds
    PLAY = "play"  # attract items played (dim: item); total: seconds shown
    FEEDBACK = "feedback"  # feedback scores (dim: the score 1-5)
    OFFER_ACTIVATION = "offer-activation"  # offers activated (dim: the offer)
    ASSIST = "assist"  # staff-assist calls (dim: the phase, "" without)
    ASSIST_ACK = "assist-ack"  # calls staff answered; total: seconds from call to answer


class ScreenReport(Payload):
    """One screen a visit left: shown from ``started`` for ``shown_s`` seconds."""

    visit: VisitId
    kind: VisitKind
    screen: ScreenName
    phase: Phase
    started: AwareDatetime = Field(description="When the screen came up (the kiosk's clock).")
    shown_s: float = Field(ge=0, le=86400, description="Seconds it was shown.")
    touched: bool = Field(description="Whether the screen was touched while shown.")
    ends_visit: bool = Field(False, description="The visit ended with this screen (back to the attract loop, a "
                                                "new session, or Klaar).")


class PlayReport(Payload):
    """One attract item that was shown on the attract loop, and for how long (proof of play)."""

    item: ItemId
    media: Literal["image", "video", "text"]
    started: AwareDatetime = Field(description="When the item came up (the kiosk's clock).")
    shown_s: float = Field(ge=0, le=86400, description="Seconds it was shown.")
    pack: str | None = Field(None, max_length=200, description="The content pack and version it came from.")


class ReportResult(Payload):
    """Whether the agent took the report into its buckets."""

    recorded: bool


class AnalyticsRow(Payload):
    """One metric for one dimension value in the period."""

    metric: Metric
    dim: Dimension = ""
    count: int = Field(ge=0)
    sessions: int | None = Field(None, ge=0, description="Sessions behind the row, for the metrics that count "
                                                         "them; never fewer than the event's k.")
    total: float = Field(0.0, ge=0, description="The sum the metric says (seconds), 0 where it has none.")


class AnalyticsEvent(Payload):
    """A complete hour of one device's anonymous analytics, or a day's remainder.

    ``period`` ``hour``: the hour from ``start`` (UTC); ``day``: the rows of the store's day from ``start``
    that were held back from its hours because they counted fewer than ``k`` sessions, now summed over the
    day (and still left out where they do not reach ``k``).
    """

    period: Literal["hour", "day"]
    start: AwareDatetime
    end: AwareDatetime
    k: int = Field(ge=1, description="No row counts fewer sessions than this.")
    rows: list[AnalyticsRow] = Field(max_length=5000)
