"""Content packs: the attract loop, inspiration carousels and instruction videos, from a folder.

A pack is a folder with a manifest, ``content.yaml``, and the media it names
(paths relative to the folder; ``content/tuincentrum/`` is the demo)::

    pack: tuincentrum-de-linde          # id: a-z, 0-9, '-'
    version: "2026.11.1"                # a string: quote it
    attract:                            # the Bereik loop, in this order
      - id: voorjaar                    # required: a-z, 0-9, '-', unique in the pack; keep it in later versions
        image: attract/voorjaar.png     # .png .jpg .jpeg .webp .bmp .gif
        seconds: 8                      # 2..600; default 8 for an image, 20 for a video
        caption: {nl: "Voorjaarsactie", en: "Spring sale", fr: "Action printemps"}
        when:                           # optional; without it: always
          from: 2026-11-01              # first day (inclusive)
          until: 2027-06-01             # first day it no longer shows (exclusive)
          days: [mon, tue, wed, thu, fri, sat]
          hours: "08:00-18:00"          # or a list: ["08:00-12:00", "13:00-18:00"]
      - id: gazon-video
        video: videos/gazon-bemesten.mp4   # .mp4 .m4v .webm .mkv .mov .avi; muted, looping
        seconds: 20
    inspire:                            # Inspireer: carousels per category or season
      - carousel: voorjaar              # id, unique in the pack
        title: {nl: "Klaar voor het voorjaar", en: "Ready for spring"}
        category: gazonmest             # optional: the category it is about
        when: {from: 2026-11-01, until: 2027-06-01}   # optional: the season
        items:
          - {gtin: "8712345000011", image: products/gazonmest-5kg.jpg, caption: {nl: "Gazonmest 5 kg"}}
    instructions:                       # Ontzorg and Informeer: instruction videos
      - id: gazon-bemesten              # unique in the pack
        title: {nl: "Gazon bemesten in 4 stappen", en: "Feeding your lawn in 4 steps"}
        video: videos/gazon-bemesten.mp4
        poster: attract/gazon.png       # optional still
        products: ["8712345000011"]     # GTINs it is about (leading zeros do not matter)
        categories: [gazonmest]         # and/or categories
    brand:                              # optional: the store's look (kiosk.brand has every colour)
      name: "Tuincentrum De Linde"
      logo: brand/logo.png              # an image in the pack
      colours: {primary: "#2e6b3a", on_primary: "#ffffff", accent: "#e3ded2", on_accent: "#1d1d1b",
                bar: "#24552e", on_bar: "#ffffff", background: "#f4f1ea", text: "#1d1d1b"}

Texts are given per language (``nl``, ``en``, ``fr``; at least one) and shown
in the shopper's language, else in Dutch, English, French. Schedules are read
on the store's wall clock (:class:`ContentLibrary` and :func:`load_pack` take
the store's time zone): ``from`` and ``until`` are dates (or relative to the
day the pack is loaded on the kiosk's clock: ``today-30d``, ``today+180d``;
:mod:`edge_agent.relative_dates`), ``days`` and
``hours`` must all match; an hours range ends before its end time and may not
cross midnight (write ``22:00-24:00`` and ``00:00-02:00`` instead).

A ``brand`` gives the top bar the store's name and logo and the buttons, bars and attract captions its
colours; a text colour below WCAG AA's 4.5:1 against a colour it is drawn on is refused with the ratio
(``content.yaml:40: brand.colours.text: contrast 3.2:1 against background #ffffff, needs at least 4.5:1``;
:mod:`kiosk.brand`). Without one the kiosk has its own look.

Every attract item, carousel and instruction has an id (``id``, ``carousel``,
``id``), unique among its kind in the pack: the store's own changes
(:mod:`edge_agent.content_control`: on/off, order, "today only", a manager's
schedule) are kept by pack and item id, so they survive the pack's next
version as long as the item keeps its id. A pack without an attract item's id
is refused with the file and line of the item. :func:`apply_overlay` gives the
pack as the store changed it (the agent's retained ``content-schedule``).

:func:`load_pack` checks the whole manifest and raises :class:`ContentError`
listing every problem as ``<file>:<line>: <key path>: <what is wrong>``:
YAML syntax, unknown or missing keys, wrong values, unknown languages, media
that are missing, of the wrong kind or outside the folder, duplicate ids.
A manifest past a limit is refused before it is parsed further: more than
:data:`MAX_MANIFEST_BYTES` bytes (refused before it is read), more than
:data:`MAX_ALIASES` aliases, more than :data:`MAX_EXPANDED_NODES` values once
its aliases are expanded (a "billion laughs" of nested aliases), or nesting
deeper than :data:`MAX_DEPTH`: ``content.yaml:6: too large: more than 300000
values with its aliases expanded``.
:class:`ContentLibrary` is what the kiosk holds: the pack in use, checked for
changes now and then; a broken new pack is logged and the previous one kept,
and every good pack can be copied to a ``last_good`` folder that is used at
start when the folder's pack is broken or missing. Reading a pack
(:meth:`ContentLibrary.read_changes`) and taking it into use
(:meth:`ContentLibrary.adopt`) are separate, so the kiosk reads in a worker
thread and never on its UI thread.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from edge_agent.contract import LANGUAGES, Language
from edge_agent.contract.payloads_content_control import ContentSchedulePayload, ItemState, Window
from edge_agent.problems import (
    InvalidInput,
    Problem,
    friendly_message,
    key_path,
    validation_problems,
    yaml_error_line,
    yaml_line,
)
from edge_agent.relative_dates import relative_date

from .brand import Brand, BrandEntry, contrast_problems

logger = logging.getLogger(__name__)

MANIFEST = "content.yaml"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".webm", ".mkv", ".mov", ".avi")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
IMAGE_SECONDS = 8.0
VIDEO_SECONDS = 20.0

# Limits checked before a manifest is read whole or walked (see _CountingLoader); a file past any of them is
# refused at once, the limit named. As many entries as the schema allows (200 attract items, 100 carousels of
# 100 items, 200 instructions, every text in three languages) stay within the value, alias and depth limits;
# the bytes limit is 500 times the demo pack's manifest (4 kB), and parsing that much takes seconds, not minutes.
#: Bytes in ``content.yaml``, looked at before it is read.
MAX_MANIFEST_BYTES = 2 * 1024 * 1024
#: Values (mappings, lists, scalars) in the document with every alias expanded.
MAX_EXPANDED_NODES = 300_000
#: Aliases (``*name``) in the document.
MAX_ALIASES = 1000
#: Levels of nesting (a manifest needs 6: ``inspire.0.items.0.caption.nl``), aliases expanded.
MAX_DEPTH = 32


class ContentError(InvalidInput):
    """A pack that cannot be used. ``problems`` lists each one (file, line, key path, what); the message has one
    per line."""


# --------------------------------------------------------------------------- what a pack holds


@dataclass(frozen=True)
class Localized:
    """A text in up to three languages."""

    nl: str | None = None
    en: str | None = None
    fr: str | None = None

    def text(self, language: str) -> str:
        """The text in ``language``, else in nl, en, fr order ('' when there is none)."""
        for candidate in (language, *LANGUAGES):
            value = getattr(self, candidate, None) if candidate in LANGUAGES else None
            if value:
                return value
        return ""


@dataclass(frozen=True)
class Schedule:
    """When something shows: dates (``start`` inclusive, ``until`` exclusive), weekdays (0 = Monday) and
    time-of-day ranges in minutes (start inclusive, end exclusive); None means no restriction."""

    start: date | None = None
    until: date | None = None
    days: frozenset[int] | None = None
    hours: tuple[tuple[int, int], ...] | None = None

    def active(self, now: datetime) -> bool:
        """Whether it shows at the wall-clock time ``now``."""
        today = now.date()
        if self.start is not None and today < self.start:
            return False
        if self.until is not None and today >= self.until:
            return False
        if self.days is not None and now.weekday() not in self.days:
            return False
        if self.hours is not None:
            minute = now.hour * 60 + now.minute + now.second / 60
            return any(start <= minute < end for start, end in self.hours)
        return True


ALWAYS = Schedule()


@dataclass(frozen=True)
class ScheduleSet:
    """When something shows as the store changed it: at any time one of ``windows`` is active; never without
    windows (an item switched off). Each window is a :class:`Schedule`."""

    windows: tuple[Schedule, ...] = ()

    def active(self, now: datetime) -> bool:
        """Whether any window is active at the wall-clock time ``now``."""
        return any(window.active(now) for window in self.windows)


#: What decides when an item shows: the pack's own schedule, or the store's (:func:`apply_overlay`).
When = Schedule | ScheduleSet


@dataclass(frozen=True)
class AttractItem:
    """One step of the attract loop: an image, or a video (muted, looping) shown ``seconds`` long."""

    kind: Literal["image", "video"]
    path: Path
    seconds: float
    caption: Localized | None = None
    schedule: When = ALWAYS
    id: str = ""


@dataclass(frozen=True)
class CarouselItem:
    gtin: str
    image: Path | None = None
    caption: Localized | None = None


@dataclass(frozen=True)
class Carousel:
    id: str
    title: Localized
    category: str | None
    items: tuple[CarouselItem, ...]
    schedule: When = ALWAYS


@dataclass(frozen=True)
class Instruction:
    id: str
    title: Localized
    video: Path
    poster: Path | None = None
    products: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    schedule: When = ALWAYS  # the pack gives none; the store may (apply_overlay)


def normal_gtin(gtin: str) -> str:
    """A GTIN without leading zeros, so GTIN-13 and its 14-digit form compare equal."""
    return gtin.strip().lstrip("0")


class ContentPack:
    """A validated pack (see the module docstring). Media paths in it are absolute.

    :param folder: the pack's folder; None for the empty pack.
    :param tz: the store's time zone: an aware ``now`` is converted to it before a schedule is read.
    """

    def __init__(self, folder: Path | None, name: str = "", version: str = "",
                 attract: tuple[AttractItem, ...] = (), carousels: tuple[Carousel, ...] = (),
                 instructions: tuple[Instruction, ...] = (), files: tuple[str, ...] = (), tz: tzinfo | None = None,
                 brand: Brand | None = None):
        self.folder = folder
        self.name = name
        self.version = version
        self.attract_items = attract
        self.all_carousels = carousels
        self.all_instructions = instructions
        self.files = files  # the manifest and every medium it names, relative to the folder
        self.tz = tz
        self.brand: Brand | None = brand

    @classmethod
    def empty(cls) -> ContentPack:
        """No pack: the kiosk shows its built-in texts."""
        return cls(None)

    def __bool__(self) -> bool:
        return self.folder is not None

    def __repr__(self) -> str:
        return f"<ContentPack {self.name or '(empty)'} {self.version} in {self.folder}>"

    def _local(self, now: datetime) -> datetime:
        return now.astimezone(self.tz) if self.tz is not None and now.tzinfo is not None else now

    def attract(self, now: datetime) -> list[AttractItem]:
        """The attract items scheduled at ``now``, in manifest order."""
        now = self._local(now)
        return [item for item in self.attract_items if item.schedule.active(now)]

    def carousels(self, now: datetime) -> list[Carousel]:
        """The carousels scheduled at ``now``, in manifest order."""
        now = self._local(now)
        return [carousel for carousel in self.all_carousels if carousel.schedule.active(now)]

    @property
    def instructions(self) -> tuple[Instruction, ...]:
        """The instruction videos shown now (all of the pack's unless the store switched some off), in order."""
        now = datetime.now(self.tz) if self.tz is not None else datetime.now().astimezone()
        return tuple(item for item in self.all_instructions if item.schedule.active(now))

    def instructions_at(self, now: datetime) -> list[Instruction]:
        """The instruction videos shown at ``now``, in order."""
        now = self._local(now)
        return [item for item in self.all_instructions if item.schedule.active(now)]

    def instruction(self, id: str) -> Instruction | None:
        return next((item for item in self.instructions if item.id == id), None)

    def instructions_for(self, gtins: Iterable[str], categories: Iterable[str] = ()) -> list[Instruction]:
        """The instructions about any of ``gtins`` (compared without leading zeros) or ``categories``."""
        wanted = {normal_gtin(gtin) for gtin in gtins if gtin}
        wanted_categories = {category for category in categories if category}
        return [item for item in self.instructions
                if wanted.intersection(normal_gtin(gtin) for gtin in item.products)
                or wanted_categories.intersection(item.categories)]

    def media(self, relative: str | os.PathLike | None) -> Path | None:
        """The file a pack-relative path (e.g. a product's image or video) names, or None when it is
        empty, leads outside the folder or does not exist."""
        if self.folder is None or not relative:
            return None
        root = self.folder.resolve()
        try:
            path = (root / relative).resolve()
        except (OSError, RuntimeError, ValueError):
            return None
        return path if path.is_relative_to(root) and path.is_file() else None

    def image_for(self, gtin: str) -> Path | None:
        """The first carousel image of the product ``gtin`` (any schedule), or None."""
        wanted = normal_gtin(gtin)
        for carousel in self.all_carousels:
            for item in carousel.items:
                if item.image is not None and normal_gtin(item.gtin) == wanted:
                    return item.image
        return None


# --------------------------------------------------------------------------- the manifest's schema

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
LocalizedText = Annotated[dict[Language, Text], Field(min_length=1)]
Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Gtin = Annotated[str, StringConstraints(pattern=r"^[0-9]{8,14}$")]
MediaPath = Annotated[str, StringConstraints(min_length=1, max_length=300)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _minutes(text: str) -> int:
    hours, _, minutes = text.strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and len(hours) <= 2):
        raise ValueError(f"{text.strip()!r} is not a time (HH:MM)")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise ValueError(f"{text.strip()!r} is not a time of day")
    return value


def parse_hours(ranges: str | list[str]) -> tuple[tuple[int, int], ...]:
    """``"08:00-18:00"`` (or a list of such) as minute ranges.

    :raises ValueError: for a malformed range, or one that ends before it starts or crosses midnight.
    """
    result = []
    for text in [ranges] if isinstance(ranges, str) else ranges:
        start, dash, end = text.partition("-")
        if not dash:
            raise ValueError(f"{text!r} is not a range of hours (HH:MM-HH:MM)")
        first, last = _minutes(start), _minutes(end)
        if last <= first:
            raise ValueError(f"{text!r} ends before it starts; a range may not cross midnight: write "
                             f"{start.strip()}-24:00 and 00:00-{end.strip()}")
        result.append((first, last))
    if not result:
        raise ValueError("give at least one range of hours")
    return tuple(result)


class WhenEntry(_Strict):
    start: date | None = Field(None, alias="from", description="First day it shows (inclusive).")
    until: date | None = Field(None, description="First day it no longer shows (exclusive).")
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = Field(None, min_length=1)
    hours: list[str] | None = Field(None, description="'HH:MM-HH:MM', or a list of them.")

    @field_validator("start", "until", mode="before")
    @classmethod
    def _relative(cls, value, info: ValidationInfo):
        # today-30d, today+180d: a demo pack's season that never runs out (edge_agent.relative_dates). "today"
        # is the store's day (the schedule is read on the store's clock), not the process's: near midnight
        # the two differ.
        if isinstance(value, str):
            tz = (info.context or {}).get("tz")
            return relative_date(value, datetime.now(tz) if tz is not None else datetime.now().astimezone()) or value
        return value

    @field_validator("hours", mode="before")
    @classmethod
    def _one_range(cls, value):
        return [value] if isinstance(value, str) else value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value):
        if value is not None:
            parse_hours(value)
        return value

    @model_validator(mode="after")
    def _order(self) -> WhenEntry:
        if self.start is not None and self.until is not None and self.until <= self.start:
            raise ValueError("'until' must be after 'from' (it is the first day it no longer shows)")
        return self

    def schedule(self) -> Schedule:
        return Schedule(self.start, self.until,
                        None if self.days is None else frozenset(DAYS.index(day) for day in self.days),
                        None if self.hours is None else parse_hours(self.hours))


class AttractEntry(_Strict):
    id: Id = Field(description="The item's id, unique among the pack's attract items; keep it in later versions.")
    image: MediaPath | None = None
    video: MediaPath | None = None
    seconds: float | None = Field(None, ge=2, le=600, description="How long it shows.")
    caption: LocalizedText | None = None
    when: WhenEntry | None = None

    @model_validator(mode="after")
    def _one_medium(self) -> AttractEntry:
        if (self.image is None) == (self.video is None):
            raise ValueError("give either 'image' or 'video'")
        return self

    @property
    def medium(self) -> str:
        """The image or the video, whichever the entry has (``_one_medium``: exactly one)."""
        medium = self.image or self.video
        assert medium is not None, "_one_medium: an image or a video"
        return medium


class CarouselItemEntry(_Strict):
    gtin: Gtin
    image: MediaPath | None = None
    caption: LocalizedText | None = None


class CarouselEntry(_Strict):
    carousel: Id
    title: LocalizedText
    category: Id | None = None
    when: WhenEntry | None = None
    items: list[CarouselItemEntry] = Field(min_length=1, max_length=100)


class InstructionEntry(_Strict):
    id: Id
    title: LocalizedText
    video: MediaPath
    poster: MediaPath | None = None
    products: list[Gtin] = Field(default_factory=list)
    categories: list[Id] = Field(default_factory=list)


class Manifest(_Strict):
    pack: Id
    version: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    attract: list[AttractEntry] = Field(default_factory=list, max_length=200)
    inspire: list[CarouselEntry] = Field(default_factory=list, max_length=100)
    instructions: list[InstructionEntry] = Field(default_factory=list, max_length=200)
    brand: BrandEntry | None = Field(None, description="The store's name, logo and colours (kiosk.brand).")


# Where the manifest names media ("*" = every item of a list), and what kind they must be.
MEDIA_FIELDS = (
    (("attract", "*", "image"), "image"),
    (("attract", "*", "video"), "video"),
    (("inspire", "*", "items", "*", "image"), "image"),
    (("instructions", "*", "video"), "video"),
    (("instructions", "*", "poster"), "image"),
    (("brand", "logo"), "image"),
)
UNIQUE_IDS = ((("attract", "*", "id"), "attract item"), (("inspire", "*", "carousel"), "carousel"),
              (("instructions", "*", "id"), "instruction"))
#: What a missing id says: the store's changes are kept by item id (edge_agent.content_control).
MISSING_ID = ("missing: every attract item needs an id (a-z, 0-9, '-'), unique in the pack and kept in its later "
              "versions: the store's changes to the item are kept by it")


# --------------------------------------------------------------------------- reading a manifest


def _find(document: Any, pattern: tuple, loc: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(loc, value) of every place in ``document`` matching ``pattern``."""
    if not pattern:
        yield loc, document
        return
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        if isinstance(document, list):
            for index, item in enumerate(document):
                yield from _find(item, rest, (*loc, index))
    elif isinstance(document, dict) and head in document:
        yield from _find(document[head], rest, (*loc, head))


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The schema model that validates the mapping at ``loc`` (for naming the keys it allows)."""
    model: Any = Manifest
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field_info = next((info for name, info in model.model_fields.items() if (info.alias or name) == part), None)
        if field_info is None:
            return None
        model = _inner_model(field_info.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _inner_model(argument)
        if found is not None:
            return found
    return None


def _message(error: ErrorDetails) -> str:
    """The pack's own wording where it says more than :func:`~edge_agent.problems.friendly_message`."""
    loc = tuple(error["loc"])
    if loc and loc[-1] == "[key]":  # only the per-language texts are dictionaries
        return f"unknown language {loc[-2]!r} (use {', '.join(LANGUAGES)})"
    if error["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = [info.alias or name for name, info in model.model_fields.items()] if model else []
        return "unknown key" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
    if error["type"] == "model_type":
        return "expected a mapping (key: value lines)" if error["input"] is not None else "empty"
    if error["type"] == "missing" and len(loc) == 3 and loc[0] == "attract" and loc[2] == "id":
        return MISSING_ID
    return friendly_message(error)


def _duplicate_keys(node: yaml.Node | None, loc: tuple = ()) -> Iterator[tuple[tuple, int]]:
    """(loc, line) of every key given twice in one mapping (YAML would keep the last silently)."""
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            if key.value in seen:
                yield (*loc, key.value), key.start_mark.line + 1
            seen.add(key.value)
            yield from _duplicate_keys(value, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, index))


def _check_medium(root: Path, relative: str, kind: str) -> str | None:
    """What is wrong with the medium ``relative`` of ``kind`` ('image' or 'video'), or None."""
    pure = PurePosixPath(relative)
    if "\\" in relative or pure.is_absolute() or ".." in pure.parts:
        return f"{relative!r} must be a path inside the pack folder (relative, without '..')"
    suffixes = IMAGE_SUFFIXES if kind == "image" else VIDEO_SUFFIXES
    if pure.suffix.lower() not in suffixes:
        return f"{relative!r} is not {'an image' if kind == 'image' else 'a video'} (use {', '.join(suffixes)})"
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        return f"{relative!r} leads outside the pack folder"
    if not path.is_file():
        return f"{relative} does not exist"
    return None


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


@dataclass
class _Reading:
    """What one reading of a folder found: the pack or the problems, and the files it looked at with their
    (mtime, size) when looked at, so a change to any of them is noticed."""

    pack: ContentPack | None
    problems: list[Problem]
    seen: tuple[tuple[Path, tuple[int, int] | None], ...] = field(default=())


class _TooBig(yaml.YAMLError):
    """A manifest beyond one of the limits (:data:`MAX_MANIFEST_BYTES` and the others): refused unread."""

    def __init__(self, mark: Any, message: str):  # a yaml Mark (PyYAML or libyaml), or None
        super().__init__(message)
        self.problem_mark = mark
        self.message = message


class _CountingLoader(yaml.SafeLoader):
    """PyYAML's safe loader that counts while it composes the node graph, and stops at the first limit passed.

    An alias is a reference: composing ``*a`` costs nothing, but everything that walks the document afterwards
    (the duplicate-key check, the constructor's result, pydantic) visits the anchored node again each time. So
    each node's size *with its aliases expanded* and its height are kept as it is composed, and the running
    total is what is limited: nine nested lists of nine aliases (476 bytes) are 9⁹ nodes, refused at the
    :data:`MAX_EXPANDED_NODES`-th instead of being walked for minutes. Depth is checked before PyYAML's
    recursive composer goes one level deeper, so ``[[[[…`` is refused long before Python's recursion limit.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self.aliases = 0
        self.expanded = 0  # nodes, aliases expanded, composed so far
        self._depth = 0
        self._deepest = 0  # the deepest level reached (aliases expanded) in the node being composed
        self._measured: dict[int, tuple[int, int]] = {}  # id(anchored node) -> (expanded size, height), once complete

    def _grow(self, nodes: int, depth: int, mark: Any) -> None:
        self.expanded += nodes
        if self.expanded > MAX_EXPANDED_NODES:
            raise _TooBig(mark, f"more than {MAX_EXPANDED_NODES} values with its aliases expanded")
        if depth > MAX_DEPTH:
            raise _TooBig(mark, f"nested deeper than {MAX_DEPTH} levels")
        self._deepest = max(self._deepest, depth)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _TooBig(event.start_mark, f"more than {MAX_ALIASES} aliases")
            node = super().compose_node(parent, index)
            measured = self._measured.get(id(node))
            if measured is None:  # the anchored node is still being composed: it would contain itself
                raise _TooBig(event.start_mark, "an alias inside the node it refers to (a structure without end)")
            size, height = measured
            self._grow(size, self._depth + height, event.start_mark)
            return node
        # No try/finally: a limit passed ends the whole reading.
        self._depth = depth = self._depth + 1
        outer_deepest, self._deepest = self._deepest, depth
        before = self.expanded
        self._grow(1, depth, event.start_mark)
        node = super().compose_node(parent, index)
        if event.anchor is not None:  # only an anchored node can be named by an alias
            self._measured[id(node)] = (self.expanded - before, self._deepest - depth + 1)
        self._depth = depth - 1
        self._deepest = max(outer_deepest, self._deepest)
        return node


def _manifest_text(path: Path) -> str:
    """The manifest's text, read only when it is at most :data:`MAX_MANIFEST_BYTES` long.

    :raises _TooBig: when it is longer (its size is looked at before it is read).
    :raises OSError, UnicodeDecodeError: when it cannot be read, or is not UTF-8.
    """
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size > MAX_MANIFEST_BYTES:
            raise _TooBig(None, f"{size} bytes, more than the limit of {MAX_MANIFEST_BYTES}")
        data = file.read(MAX_MANIFEST_BYTES + 1)  # a file that grows, or a pipe: never more than the limit
    if len(data) > MAX_MANIFEST_BYTES:
        raise _TooBig(None, f"more than the limit of {MAX_MANIFEST_BYTES} bytes")
    return data.decode("utf-8")


def _read(folder: Path, tz: tzinfo | None) -> _Reading:
    manifest_path = folder / MANIFEST
    seen = [(manifest_path, _stat(manifest_path))]
    try:
        text = _manifest_text(manifest_path)
    except _TooBig as exc:
        return _Reading(None, [Problem(manifest_path, None, None, f"too large: {exc.message}")], tuple(seen))
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return _Reading(None, [Problem(manifest_path, None, None, f"cannot read: {reason}")], tuple(seen))
    loader = _CountingLoader(text)
    try:
        node = loader.get_single_node()
        document = loader.construct_document(node) if node is not None else None
    except _TooBig as exc:
        return _Reading(None, [Problem(manifest_path, yaml_error_line(exc), None, f"too large: {exc.message}")],
                        tuple(seen))
    except yaml.YAMLError as exc:
        broken = Problem(manifest_path, yaml_error_line(exc), None,
                         f"not valid YAML: {getattr(exc, 'problem', None) or exc}")
        return _Reading(None, [broken], tuple(seen))
    finally:
        loader.dispose()

    found: dict[str, Problem] = {}  # by key path: the first problem found there

    def line_of(loc: tuple) -> int:
        return yaml_line(node, loc) or 1  # 1: an empty manifest

    def report(loc: tuple, message: str, line: int | None = None) -> None:
        path = key_path(loc)
        found.setdefault(path, Problem(manifest_path, line or line_of(loc), path, message))

    for loc, line in _duplicate_keys(node):
        report(loc, "given twice", line)
    manifest = None
    try:
        manifest = Manifest.model_validate(document, context={"tz": tz})
    except ValidationError as exc:
        for mistake in validation_problems(exc, file=manifest_path, locate=line_of, message=_message):
            found.setdefault(mistake.key or "", mistake)
    root = folder.resolve()
    for pattern, kind in MEDIA_FIELDS:
        for loc, value in _find(document, pattern):
            if not isinstance(value, str) or key_path(loc) in found:
                continue
            medium_problem = _check_medium(root, value, kind)
            if medium_problem:
                report(loc, medium_problem)
            if not PurePosixPath(value).is_absolute() and ".." not in PurePosixPath(value).parts:
                seen.append((folder / value, _stat(folder / value)))
    for pattern, what in UNIQUE_IDS:
        first: dict[Any, tuple] = {}
        for loc, value in _find(document, pattern):
            if not isinstance(value, str):
                continue
            if value in first:
                report(loc, f"duplicate {what} id {value!r} (also at line {line_of(first[value])})")
            else:
                first[value] = loc
    if manifest is not None and manifest.brand is not None:
        for colour, problem in contrast_problems(manifest.brand.colours):
            report(("brand", "colours", colour), problem)
    if found or manifest is None:
        problems = sorted(found.values(), key=lambda problem: (problem.line or 0, problem.key or ""))
        return _Reading(None, problems, tuple(seen))
    return _Reading(_build(folder, manifest, tz), [], tuple(dict.fromkeys(seen)))


def _localized(texts: LocalizedText | None) -> Localized | None:
    return Localized(**texts) if texts else None


def _build(folder: Path, manifest: Manifest, tz: tzinfo | None) -> ContentPack:
    def when(entry: WhenEntry | None) -> Schedule:
        return entry.schedule() if entry is not None else ALWAYS

    folder = folder.resolve()  # media paths compare equal to ContentPack.media()'s

    attract = tuple(
        AttractItem("image" if entry.image else "video", (folder / entry.medium).resolve(),
                    entry.seconds or (IMAGE_SECONDS if entry.image else VIDEO_SECONDS), _localized(entry.caption),
                    when(entry.when), entry.id)
        for entry in manifest.attract)
    carousels = tuple(
        Carousel(entry.carousel, Localized(**entry.title), entry.category,
                 tuple(CarouselItem(item.gtin, (folder / item.image).resolve() if item.image else None,
                                    _localized(item.caption)) for item in entry.items),
                 when(entry.when))
        for entry in manifest.inspire)
    instructions = tuple(
        Instruction(entry.id, Localized(**entry.title), (folder / entry.video).resolve(),
                    (folder / entry.poster).resolve() if entry.poster else None,
                    tuple(entry.products), tuple(entry.categories))
        for entry in manifest.instructions)
    files = [MANIFEST]
    for pattern, _kind in MEDIA_FIELDS:
        files.extend(value for _loc, value in _find(manifest.model_dump(by_alias=True), pattern) if value)
    brand = Brand.from_entry(manifest.brand, folder) if manifest.brand is not None else None
    return ContentPack(folder, manifest.pack, manifest.version, attract, carousels, instructions,
                       tuple(dict.fromkeys(files)), tz, brand)


def load_pack(folder: Path, tz: tzinfo | None = None) -> ContentPack:
    """The pack in ``folder``.

    :param tz: the store's time zone, for schedules (see :class:`ContentPack`).
    :raises ContentError: listing every problem of the manifest with file, line and key path.
    """
    reading = _read(Path(folder), tz)
    if reading.pack is None:
        raise ContentError(reading.problems, folder / MANIFEST)
    return reading.pack


# --------------------------------------------------------------------------- the store's changes


def window_schedule(window: Window) -> Schedule:
    """The :class:`Schedule` of one window of the agent's ``content-schedule``."""
    return Schedule(window.start, window.until,
                    None if window.days is None else frozenset(DAYS.index(day) for day in window.days),
                    None if window.hours is None else parse_hours(window.hours))


def _laid_over(items: tuple, states: list[ItemState]) -> tuple:
    by_id = {item.id: item for item in items}
    result = [dataclasses.replace(by_id[state.id],
                                  schedule=ScheduleSet(tuple(window_schedule(window) for window in state.windows)))
              for state in states if state.id in by_id]
    named = {state.id for state in states}
    # An item the schedule does not name (the kiosk has a newer pack than the agent read): as the pack gives it.
    result.extend(item for item in items if item.id not in named)
    return tuple(result)


def apply_overlay(pack: ContentPack, schedule: ContentSchedulePayload | None) -> ContentPack:
    """``pack`` as the store changed it: its items in the schedule's order, each shown in its windows.

    A schedule of another pack (by id) changes nothing; items it names that the pack lacks are left out, items
    of the pack it does not name stay as the pack gives them (the agent and the kiosk may read a new version
    of the pack a few seconds apart).
    """
    if not pack or schedule is None or schedule.pack != pack.name:
        return pack
    return ContentPack(pack.folder, pack.name, pack.version, _laid_over(pack.attract_items, schedule.attract),
                       _laid_over(pack.all_carousels, schedule.inspire),
                       _laid_over(pack.all_instructions, schedule.instructions), pack.files, pack.tz, pack.brand)


# --------------------------------------------------------------------------- the pack in use


@dataclass(frozen=True)
class PackUpdate:
    """What :meth:`ContentLibrary.read_changes` found, for :meth:`ContentLibrary.adopt` to take into use.

    ``reading`` is the folder's; ``fallback`` the last good copy, read because nothing is in use yet and the
    folder's pack cannot be used. ``folder`` is set by :meth:`ContentLibrary.read_folder`: another folder than
    the library's (the agent's active pack), which becomes the library's when its good pack is taken into use.
    """

    reading: _Reading
    fallback: ContentPack | None = None
    folder: Path | None = None


class ContentLibrary:
    """The pack the kiosk shows, kept up to date with its folder.

    :param folder: the pack folder (``[content] folder``); None for no pack (built-in texts).
    :param last_good: where every good pack is copied (``[content] last_good``); at start, the copy there
        is used when the folder's pack is broken or missing.
    :param tz: the store's time zone, for schedules.
    :param load: read the folder now (the default). The kiosk passes False and reads it in a worker thread:
        :meth:`read_changes` there, :meth:`adopt` on the UI thread.

    ``current`` is the pack in use (:meth:`ContentPack.empty` without one) as the store changed it
    (:meth:`set_schedule`), ``pack`` the same as the pack gives it, ``error`` the problems of the folder's pack
    when it cannot be used (else None), ``revision`` counts the packs taken into use.
    """

    def __init__(self, folder: Path | None, last_good: Path | None = None, tz: tzinfo | None = None, *,
                 load: bool = True):
        self.folder = Path(folder) if folder is not None else None
        self.last_good = Path(last_good) if last_good is not None else None
        self.tz = tz
        self.current = ContentPack.empty()
        self.pack = ContentPack.empty()
        self.schedule: ContentSchedulePayload | None = None  # the agent's content-schedule, laid over the pack
        self.error: str | None = None
        self.revision = 0
        self._seen: tuple | None = None  # None: the folder was never read
        if load:
            self.refresh()

    def refresh(self) -> bool:
        """Read the folder again if the manifest or a medium it names changed (mtime or size), and take a good
        pack into use; :meth:`read_changes` then :meth:`adopt`, in the caller's thread.

        A broken pack is logged (file:line: key: problem) and the one in use kept.

        :returns: True when another pack is now in use.
        """
        return self.adopt(self.read_changes())

    def read_changes(self) -> PackUpdate | None:
        """The folder's pack read again when any file of it changed, else None; safe in a worker thread.

        It reads files only and changes nothing the kiosk shows: a good pack is copied to ``last_good`` here
        (so the copying does not hold up the UI either), and taken into use by :meth:`adopt`. While nothing is
        in use (at start) and the folder's pack cannot be used, the last good copy is read instead.
        """
        seen = self._seen
        if self.folder is None or (seen is not None and all(_stat(path) == stat for path, stat in seen)):
            return None
        reading = _read(self.folder, self.tz)
        if reading.pack is not None:
            if self.last_good is not None:
                try:
                    save_copy(reading.pack, self.last_good)
                except OSError as exc:
                    logger.warning("could not keep a copy of content pack %s in %s: %s", reading.pack.name,
                                   self.last_good, exc)
            return PackUpdate(reading)
        fallback = None
        if not self.pack and self.last_good is not None and (self.last_good / MANIFEST).exists():
            try:
                fallback = load_pack(self.last_good, self.tz)
            except ContentError as exc:
                logger.error("the last good content pack is not usable either:\n%s", exc)
        return PackUpdate(reading, fallback)

    def adopt(self, update: PackUpdate | None) -> bool:
        """Take what :meth:`read_changes` found into use; on the thread that reads ``current`` (the UI's).

        :returns: True when another pack is now in use.
        """
        if update is None:
            return False
        reading = update.reading
        if update.folder is not None:
            if reading.pack is None:
                return False  # another folder's broken pack: the library's own folder stays as it was read
            self.folder = update.folder
        self._seen = reading.seen
        if reading.pack is not None:
            pack = reading.pack
            self._use(pack)
            self.error = None
            logger.info("content pack %s %s in use (%d attract items, %d carousels, %d instructions)", pack.name,
                        pack.version, len(pack.attract_items), len(pack.all_carousels), len(pack.instructions))
            return True
        self.error = "\n".join(str(problem) for problem in reading.problems)
        logger.error("content pack in %s not used (%s):\n%s", self.folder,
                     f"keeping {self.current.name} {self.current.version}" if self.current
                     else "showing the built-in texts", self.error)
        if update.fallback is not None and not self.pack:
            pack = update.fallback
            logger.warning("using the last good content pack %s %s from %s", pack.name, pack.version,
                           self.last_good)
            self._use(pack)
            return True
        return False

    def read_folder(self, folder: Path) -> PackUpdate:
        """The pack in ``folder`` (another than the library's: the agent's active pack), read for :meth:`adopt`;
        safe in a worker thread. Taken into use, ``folder`` becomes the library's folder, checked for changes
        from then on. Nothing is copied to ``last_good``: the agent keeps its own last good packs."""
        return PackUpdate(_read(Path(folder), self.tz), folder=Path(folder))

    def _use(self, pack: ContentPack) -> None:
        self.pack, self.revision = pack, self.revision + 1
        self.current = apply_overlay(pack, self.schedule)

    def set_schedule(self, schedule: ContentSchedulePayload | None) -> None:
        """Lay the agent's ``content-schedule`` over the pack (on the thread that reads ``current``); it applies
        to the packs taken into use later too, as long as their id is the schedule's."""
        self.schedule = schedule
        self.current = apply_overlay(self.pack, schedule)


def _listing(folder: Path, files: Iterable[str]) -> list[tuple[str, tuple[int, int] | None]]:
    return sorted((name, _stat(folder / name)) for name in files)


def save_copy(pack: ContentPack, target: Path) -> bool:
    """Copy the pack's manifest and media to ``target``: into a temporary folder beside it first, then
    renamed into place, so ``target`` is never half a pack. Nothing is copied when ``target`` already
    holds the same files (name, size and modification time).

    :returns: whether it copied.
    :raises OSError: when copying fails (``target`` is then unchanged).
    """
    if pack.folder is None or pack.folder.resolve() == target.resolve():
        return False
    if (target / MANIFEST).is_file() and _listing(target, pack.files) == _listing(pack.folder, pack.files) \
            and set(_files_under(target)) == set(pack.files):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f".{target.name}.new-{os.getpid()}"
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    for leftover in (temporary, old):  # from a copy that was interrupted
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        for name in pack.files:
            destination = temporary / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(pack.folder / name, destination)
        if target.exists():
            os.replace(target, old)
        os.replace(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    logger.info("content pack %s %s kept in %s", pack.name, pack.version, target)
    return True


def _files_under(folder: Path) -> Iterator[str]:
    for path in folder.rglob("*"):
        if path.is_file():
            yield path.relative_to(folder).as_posix()
