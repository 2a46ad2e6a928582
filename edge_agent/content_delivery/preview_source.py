"""The staged delivered pack as a source of staff's preview (:mod:`edge_agent.content_control.preview`).

A pack central delivered that is complete and valid but not active yet (its
``activate_at`` is to come, or it waits for a manager's approval) can be
previewed at the kiosk before it is shown: Voorbeeld lists it beside the pack
in use, read from its own folder with the kiosk's reader.
"""

from __future__ import annotations

import logging
from datetime import tzinfo

from kiosk.content import ContentError, load_pack

from ..content_control.preview import PreviewablePack
from .service import ContentDelivery

logger = logging.getLogger(__name__)


class StagedPacks:
    """The staged pack of ``delivery``, read with the store's time zone ``tz``."""

    def __init__(self, delivery: ContentDelivery, tz: tzinfo):
        self._delivery = delivery
        self._tz = tz

    def packs(self) -> list[PreviewablePack]:
        found = []
        for _pack, _version, folder in self._delivery.staged_folders():
            try:
                found.append(PreviewablePack("staged", load_pack(folder, self._tz)))
            except (ContentError, OSError) as exc:  # removed or replaced meanwhile: nothing to preview
                logger.info("staged pack in %s not previewable: %s", folder, exc)
        return found
