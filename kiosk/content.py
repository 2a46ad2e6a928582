"""The attract loop's content: a minimal manifest in the content folder.

``<folder>/attract.yaml``::

    slides:
      - image: attract/lente.png        # relative to the folder
        seconds: 8                      # 2..120, default 8
        caption:                        # optional, per language
          nl: Het voorjaar is begonnen
          en: Spring has started

Without a folder, a manifest or any usable slide the kiosk shows its built-in
text attract. A broken manifest is reported with file, line and what is wrong,
and the built-in attract is used. (Scheduling by date and time of day and the
full content pack format come with issue 6's content work.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

logger = logging.getLogger(__name__)

MANIFEST = "attract.yaml"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"}


class ContentError(Exception):
    """A manifest that cannot be used; the message names the file, line and problem."""


class Caption(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    nl: str | None = Field(None, max_length=200)
    en: str | None = Field(None, max_length=200)
    fr: str | None = Field(None, max_length=200)

    def text(self, language: str) -> str:
        """The caption in ``language``, else in nl, en, fr order."""
        for candidate in (language, "nl", "en", "fr"):
            value = getattr(self, candidate, None)
            if value:
                return value
        return ""


class SlideEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str = Field(min_length=1, max_length=200)
    seconds: float = Field(8.0, ge=2, le=120)
    caption: Caption | None = None

    @field_validator("image")
    @classmethod
    def _inside_folder(cls, value: str) -> str:
        if value.startswith("/") or ".." in Path(value).parts:
            raise ValueError("the image must be a path inside the content folder")
        if Path(value).suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(f"not an image file (use {', '.join(sorted(IMAGE_SUFFIXES))})")
        return value


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slides: list[SlideEntry] = Field(min_length=1, max_length=200)


@dataclass(frozen=True)
class Slide:
    image: Path
    seconds: float
    caption: Caption | None


def _line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """Line (1-based) of the YAML node at ``loc``, or of the deepest one found."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((value for key, value in node.value if key.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def load_slides(folder: Path) -> list[Slide]:
    """The slides of the manifest in ``folder``.

    :raises ContentError: for a missing, unreadable or invalid manifest, or a missing image.
    """
    path = folder / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: cannot read: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ContentError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    try:
        manifest = Manifest.model_validate(document)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        line = _line_of(node, tuple(error["loc"]))
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise ContentError(f"{path}:{line or '?'}: {key}: {error['msg']}") from None
    slides = []
    for index, entry in enumerate(manifest.slides):
        image = folder / entry.image
        if not image.is_file():
            line = _line_of(node, ("slides", index, "image"))
            raise ContentError(f"{path}:{line or '?'}: slides.{index}.image: {entry.image} does not exist")
        slides.append(Slide(image, entry.seconds, entry.caption))
    return slides


def attract_slides(folder: Path | None) -> list[Slide]:
    """The slides to show, or an empty list for the built-in text attract (problems are logged)."""
    if folder is None:
        return []
    try:
        return load_slides(folder)
    except ContentError as exc:
        logger.error("attract content not used: %s", exc)
        return []
