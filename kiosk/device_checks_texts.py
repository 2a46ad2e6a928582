"""The device checks screen's rows: (what, value) pairs in the staff member's language, from the agent's
report (:class:`edge_agent.contract.payloads_device_checks.DeviceChecksReport`) and what this kiosk itself
runs (its version and Kivy's, and the content pack it shows).

Nothing here computes a figure: each value is the agent's, worded. The reader test says the card type,
assurance and link the agent reported, never more: the report holds no UID and no one's name.
"""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version

from edge_agent.contract.payloads_device_checks import DeviceChecksReport, ReaderTestResult

from .texts import Words

DISTRIBUTION = "connected-store"  # the kiosk is installed with the agent, as one distribution


def size_text(count: int | None) -> str:
    """Bytes as a short figure: ``512 kB``, ``143.4 MB``, ``12.3 GB``."""
    if count is None:
        return "–"
    for unit, size in (("GB", 1e9), ("MB", 1e6)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count / 1e3:.0f} kB"


@functools.cache
def kiosk_versions() -> str:
    """This kiosk's version and Kivy's."""
    found = []
    for label, name in (("kiosk", DISTRIBUTION), ("Kivy", "kivy")):
        try:
            found.append(f"{label} {version(name)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found)


class CheckTexts:
    """Words the device checks.

    :param words: the kiosk's texts (translation).
    """

    def __init__(self, words: Words):
        self.words = words

    def rows(self, report: DeviceChecksReport | None, language: str, pack) -> list[tuple[str, str]]:
        """The rows of ``report`` (None: "still asking") and of ``pack``, the content pack this kiosk shows."""
        tr = self.words.tr
        rows = [(tr("Inhoudspakket op dit scherm", language),
                 f"{pack.name} {pack.version}" if pack else tr("geen (ingebouwde teksten)", language)),
                (tr("Versie van de kiosk", language), kiosk_versions())]
        if report is None:
            return [(tr("Controles", language), tr("Even geduld…", language)), *rows]
        yes, no = tr("ja", language), tr("nee", language)
        rtt = "–" if report.broker_rtt_ms is None else self.words.tr("{ms} ms ({age} s geleden)", language).format(
            ms=f"{report.broker_rtt_ms:.1f}", age=f"{report.broker_rtt_age_s or 0:.0f}")
        oldest = "–" if report.outbox_oldest_age_s is None else f"{report.outbox_oldest_age_s:.0f} s"
        found = [
            (tr("Agent verbonden met de broker", language), yes if report.connected else no),
            (tr("Rondgang via de broker", language), rtt),
            (tr("Berichten in de wachtrij", language), str(report.outbox_depth)),
            (tr("Oudste bericht in de wachtrij", language), oldest),
            (tr("Vrije schijfruimte", language), size_text(report.disk_free_bytes)),
            (tr("Grootte van de database", language), size_text(report.database_bytes)),
            *self._clock(report, language),
            *self._reader(report, language),
            *self._camera(report, language),
            (tr("Versie van de agent", language), report.versions.agent),
            (tr("Contract en Python", language),
             f"{report.versions.contract}, Python {report.versions.python}, SQLite {report.versions.sqlite}"),
            (tr("Bibliotheken", language), ", ".join(f"{name} {number}"
                                                     for name, number in report.versions.libraries.items())),
            (tr("Inhoudspakket van de agent", language), report.content_pack or "–"),
        ]
        if report.test_event is not None:
            event = report.test_event
            found.append((tr("Testbericht", language),
                          tr("door de broker ontvangen na {s} s", language).format(s=f"{event.delivered_after_s:.2f}")
                          if event.delivered and event.delivered_after_s is not None
                          else tr("in de wachtrij", language)))
        return [*found, *rows]

    def _clock(self, report: DeviceChecksReport, language: str) -> list[tuple[str, str]]:
        tr = self.words.tr
        clock = report.clock
        if clock.ahead_s is None:
            offset = tr("nog geen bericht van centraal", language)
        else:
            offset = tr("{s} s t.o.v. centraal (uit {n} berichten)", language).format(
                s=f"{clock.ahead_s:+.1f}", n=clock.samples)
        synced = {True: tr("ja", language), False: tr("nee", language), None: "–"}[clock.synchronised]
        return [(tr("Klok", language), offset), (tr("Klok gesynchroniseerd (NTP)", language), synced)]

    def _reader(self, report: DeviceChecksReport, language: str) -> list[tuple[str, str]]:
        tr = self.words.tr
        if report.reader_state is None:
            return []
        state = {"ok": tr("in orde", language), "opening": tr("wordt geopend", language),
                 "failed": tr("storing", language)}[report.reader_state]
        test = report.reader_test
        if test.state == "waiting":
            tested = tr("houd een kaart bij de lezer (nog {n} s)", language).format(n=f"{test.waiting_s or 0:.0f}")
        elif test.state == "done" and test.result is not None:
            tested = self.card(test.result, language)
        else:
            tested = "–"
        return [(tr("Kaartlezer", language), state), (tr("Testkaart", language), tested)]

    def card(self, result: ReaderTestResult, language: str) -> str:
        """What a test tap read: type (and nfcpy's product name), assurance, link."""
        tr = self.words.tr
        kind = result.tag_type.replace("Tag", "").replace("Type", "Type ")
        if result.product:
            kind += f" ({result.product})"
        assurance = {"uid-only": tr("alleen UID (kopieerbaar)", language),
                     "sun-verified": tr("SUN geverifieerd", language),
                     "sun-failed": tr("SUN mislukt", language),
                     "unreadable": tr("onleesbaar", language)}[result.assurance]
        if result.sun_failure or result.problem:
            assurance += f" ({result.sun_failure or result.problem})"
        linked = {"customer": tr("gekoppeld aan een klant", language),
                  "staff": tr("gekoppeld aan een medewerker", language),
                  "unknown": tr("niet gekoppeld", language)}[result.linked]
        return f"{kind} · {assurance} · {linked}"

    def _camera(self, report: DeviceChecksReport, language: str) -> list[tuple[str, str]]:
        tr = self.words.tr
        camera = report.camera
        if camera is None:
            return []
        state = {"ok": tr("in orde", language), "opening": tr("wordt geopend", language),
                 "failed": tr("storing", language), "stopped": tr("gestopt", language)}[camera.state]
        code = camera.last_code
        if code is None:
            last = "–"
        elif code.kind == "app":
            last = tr("app-code ({n} s geleden)", language).format(n=f"{code.age_s:.0f}")
        else:
            ago = tr("{n} s geleden", language).format(n=f"{code.age_s:.0f}")
            last = f"{(code.format or '').upper()} {code.gtin} ({ago})"
        fps = "–" if camera.fps is None else f"{camera.fps:.1f}"
        rate = tr("{state}, {fps} beelden per seconde", language).format(state=state, fps=fps)
        return [(tr("Camera", language), rate),
                (tr("Iemand voor de camera", language), tr("ja", language) if camera.present else tr("nee", language)),
                (tr("Laatste code", language), last),
                (tr("Privacymaskers", language), str(camera.privacy_masks))]
