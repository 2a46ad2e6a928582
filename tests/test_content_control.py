"""The store's changes to a content pack, without the kiosk's window: item ids in the pack format, the overlay on a
real SQLite file (restart, undo, reset, a newer version that drops items), and the effective schedule the agent
publishes against what the kiosk's own schedule makes of it, for hundreds of generated moments (hypothesis)."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.content_control.overlay import ItemOverlay, OverlayStore, PackOverlay
from edge_agent.content_control.schedule import effective, pack_items, showing
from edge_agent.contract import CONTENT_SCHEDULE, decode, encode
from edge_agent.contract.payloads_content_control import SECTIONS, Window
from edge_agent.store import Store
from kiosk.content import DAYS, ContentError, apply_overlay, load_pack

TZ = ZoneInfo("Europe/Amsterdam")
# A 1x1 PNG that decodes (the kiosk's attract loop skips a picture it cannot decode: kiosk.attract_stage).
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154081d63d05810f01f0004240218aed7d5980000000049454e44ae426082")

MANIFEST = """\
pack: proef
version: "{version}"
attract:
{attract}
inspire:
  - carousel: lente
    title: {{nl: Lente}}
    when: {{from: 2026-03-01, until: 2026-06-01}}
    items: [{{gtin: "8712345000011", image: attract/a.png}}]
  - carousel: gereedschap
    title: {{nl: Gereedschap}}
    items: [{{gtin: "8712345000059", image: attract/b.png}}]
instructions:
  - id: bemesten
    title: {{nl: Bemesten}}
    video: videos/film.mp4
  - id: snoeien
    title: {{nl: Snoeien}}
    video: videos/film.mp4
"""
ATTRACT = {
    "a": "  - id: a\n    image: attract/a.png\n",
    "b": "  - id: b\n    image: attract/b.png\n    when: {days: [fri, sat, sun], hours: \"09:00-17:00\"}\n",
    "c": "  - id: c\n    image: attract/c.png\n    when: {from: 2026-04-01, until: 2026-04-20}\n",
    "d": "  - id: d\n    image: attract/d.png\n    when: {hours: [\"08:00-12:00\", \"13:00-18:00\"]}\n",
}


def write_pack(folder: Path, version: str = "1", ids: tuple[str, ...] = ("a", "b", "c", "d")) -> Path:
    (folder / "attract").mkdir(parents=True, exist_ok=True)
    (folder / "videos").mkdir(exist_ok=True)
    for name in "abcd":
        (folder / "attract" / f"{name}.png").write_bytes(PNG)
    (folder / "videos" / "film.mp4").write_bytes(b"not decoded by the checks")
    (folder / "content.yaml").write_text(MANIFEST.format(version=version,
                                                         attract="".join(ATTRACT[id] for id in ids)))
    return folder


def test_an_attract_item_without_an_id_is_refused_naming_file_and_line(tmp_path):
    write_pack(tmp_path)
    manifest = tmp_path / "content.yaml"
    manifest.write_text(manifest.read_text().replace("  - id: b\n    image: attract/b.png\n",
                                                     "  - image: attract/b.png\n"))
    with pytest.raises(ContentError) as raised:
        load_pack(tmp_path)
    assert str(raised.value).startswith(f"{manifest}:6: attract.1.id: missing: every attract item needs an id"), \
        str(raised.value)


def test_two_attract_items_with_one_id_are_refused_naming_both_lines(tmp_path):
    write_pack(tmp_path)
    manifest = tmp_path / "content.yaml"
    manifest.write_text(manifest.read_text().replace("  - id: b\n", "  - id: a\n"))
    with pytest.raises(ContentError, match=r"content.yaml:6: attract.1.id: duplicate attract item id 'a' "
                                           r"\(also at line 4\)"):
        load_pack(tmp_path)


def test_the_overlay_survives_reopening_the_database_and_undo_takes_back_one_change_at_a_time(tmp_path):
    path = tmp_path / "agent.db"
    store = Store(path)
    overlays = OverlayStore(store)
    overlays.adopt_version("proef", "1", {"attract": {"a", "b"}, "inspire": set(), "instructions": set()})
    off = PackOverlay({("attract", "a"): ItemOverlay(False)})
    assert overlays.change("proef", "disable", off) == 1
    moved = PackOverlay({("attract", "a"): ItemOverlay(False)}, {"attract": ["b", "a"]})
    assert overlays.change("proef", "move-up", moved) == 2
    store.close()

    store = Store(path)
    overlays = OverlayStore(store)
    loaded = overlays.load("proef")
    assert loaded.items == moved.items and loaded.orders == moved.orders and loaded.undo == "move-up"
    assert overlays.undo("proef") == "move-up"
    loaded = overlays.load("proef")
    assert loaded.items == off.items and loaded.orders == {} and loaded.undo == "disable"
    assert overlays.undo("proef") == "disable"
    assert not overlays.load("proef").changed
    assert overlays.undo("proef") is None, "nothing left to undo"
    store.close()


def test_a_newer_version_without_a_changed_item_drops_its_changes_and_lists_it_once(tmp_path):
    store = Store(tmp_path / "agent.db")
    overlays = OverlayStore(store)
    present = {"attract": {"a", "b", "c"}, "inspire": set(), "instructions": set()}
    overlays.adopt_version("proef", "1", present)
    overlays.change("proef", "disable", PackOverlay({("attract", "c"): ItemOverlay(False),
                                                     ("attract", "a"): ItemOverlay(False)},
                                                    {"attract": ["c", "b", "a"]}))
    assert overlays.adopt_version("proef", "1", present) == [], "the same version again changes nothing"
    dropped = overlays.adopt_version("proef", "2", {"attract": {"a", "b"}, "inspire": set(), "instructions": set()})
    assert [(item.section, item.id, item.version) for item in dropped] == [("attract", "c", "2")]
    loaded = overlays.load("proef")
    assert loaded.items == {("attract", "a"): ItemOverlay(False)}, "the change to an item still there is kept"
    assert loaded.orders == {"attract": ["b", "a"]}
    assert [item.id for item in loaded.dropped] == ["c"] and loaded.undo is None
    assert overlays.dismiss_dropped("proef") == 1 and overlays.load("proef").dropped == []
    store.close()


def test_off_today_only_and_on_until_a_day_are_windows_the_kiosk_reads_the_same_way(tmp_path):
    pack = load_pack(write_pack(tmp_path), TZ)
    overlay = PackOverlay({("attract", "a"): ItemOverlay(False, date(2026, 4, 4)),  # off until the 4th
                           ("attract", "b"): ItemOverlay(True, date(2026, 4, 2))},  # shown all of the 1st
                          {"attract": ["d", "c", "b", "a"]})
    schedule = decode(CONTENT_SCHEDULE, encode(CONTENT_SCHEDULE, effective(pack, overlay, 3))[1]).payload
    kiosk = apply_overlay(pack, schedule)
    wednesday_night = datetime(2026, 4, 1, 22, 0, tzinfo=TZ)  # b is weekends 9-17 in the pack
    assert [item.id for item in kiosk.attract(wednesday_night)] == ["c", "b"]
    friday = datetime(2026, 4, 3, 10, 0, tzinfo=TZ)
    assert [item.id for item in kiosk.attract(friday)] == ["d", "c", "b"]
    saturday = datetime(2026, 4, 4, 10, 0, tzinfo=TZ)
    assert [item.id for item in kiosk.attract(saturday)] == ["d", "c", "b", "a"]


# --------------------------------------------------------------------------- the rules against the kiosk

DAY = st.dates(min_value=date(2026, 3, 1), max_value=date(2026, 6, 30))


@st.composite
def windows(draw) -> Window:
    start = draw(st.none() | DAY)
    until = draw(st.none() | DAY)
    if start is not None and until is not None and until <= start:
        until = start + timedelta(days=draw(st.integers(1, 30)))
    days = draw(st.none() | st.sets(st.sampled_from(DAYS), min_size=1))
    hours = None
    if draw(st.booleans()):
        first = draw(st.integers(0, 47)) * 30
        last = draw(st.integers(first // 30 + 1, 48)) * 30
        hours = [f"{first // 60:02d}:{first % 60:02d}-{last // 60:02d}:{last % 60:02d}"]
    return Window(start=start, until=until, days=sorted(days, key=DAYS.index) if days else None, hours=hours)


@st.composite
def overlays(draw, ids: dict[str, list[str]]) -> PackOverlay:
    items = {}
    for section in SECTIONS:
        for id in ids[section]:
            if draw(st.booleans()):
                items[(section, id)] = ItemOverlay(draw(st.booleans()), draw(st.none() | DAY),
                                                   draw(st.none() | windows()))
    orders = {section: draw(st.permutations(ids[section])) for section in SECTIONS if draw(st.booleans())}
    return PackOverlay({key: value for key, value in items.items() if not value.empty}, orders)


MOMENTS = st.datetimes(min_value=datetime(2026, 2, 25), max_value=datetime(2026, 7, 5)).map(
    lambda moment: moment.replace(tzinfo=TZ))


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    return load_pack(write_pack(tmp_path_factory.mktemp("pack")), TZ)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_preview_shows_exactly_what_the_kiosk_schedule_shows_at_every_generated_moment(pack, data):
    items = pack_items(pack)
    overlay = data.draw(overlays({section: [item.id for item in entries] for section, entries in items.items()}))
    _, raw = encode(CONTENT_SCHEDULE, effective(pack, overlay, 1))  # as the kiosk receives it
    kiosk = apply_overlay(pack, decode(CONTENT_SCHEDULE, raw).payload)
    for at in data.draw(st.lists(MOMENTS, min_size=5, max_size=5)):  # 60 overlays x 5 moments = 300
        assert showing(items["attract"], overlay, "attract", at) == [item.id for item in kiosk.attract(at)], at
        assert showing(items["inspire"], overlay, "inspire", at) == [item.id for item in kiosk.carousels(at)], at
        assert (showing(items["instructions"], overlay, "instructions", at)
                == [item.id for item in kiosk.instructions_at(at)]), at


def test_the_shipped_pack_loads_with_an_id_for_every_item(tmp_path):
    shipped = Path(__file__).resolve().parents[1] / "content" / "tuincentrum"
    manifest = tmp_path / "content.yaml"
    shutil.copy(shipped / "content.yaml", manifest)
    import yaml

    document = yaml.safe_load(manifest.read_text())
    ids = [entry["id"] for entry in document["attract"]]
    assert len(ids) == len(set(ids)) == len(document["attract"])


# --------------------------------------------------------------------------- the agent's service, gated and audited


def content_audits(world) -> list[tuple[str | None, str, str]]:
    return [(entry["staff"], entry["action"], entry["result"]) for entry in world.audits()
            if entry["action"].startswith("content-")]


@pytest.fixture
def service(tmp_path):
    """Staff mode on a real database (Anna: staff, Bob: manager; tests/test_staff_mode.py) and the content
    control of a pack, publishing into a list."""
    from edge_agent.config import StaffConfig
    from edge_agent.content_control.config import ContentConfig
    from edge_agent.content_control.service import ContentControl
    from tests.support.cards import STAFF_UID
    from tests.test_staff_mode import ANNA_PIN, BOB_PIN, MANAGER_UID, World

    world = World(tmp_path / "agent.db", StaffConfig())
    published: list[tuple[str, bytes, bool]] = []
    control = ContentControl(world.store, ContentConfig(folder=write_pack(tmp_path / "pack")), TZ, "t/content",
                             lambda topic, payload, retain: published.append((topic, payload, retain)) or True,
                             world.staff.gate, world.staff.audit)
    assert control.refresh()

    def staff_mode(who: str) -> str:
        """The session of Anna's or Bob's staff mode (one at a time: a badge ends the session before it)."""
        uid, pin = {"anna": (STAFF_UID, ANNA_PIN), "bob": (MANAGER_UID, BOB_PIN)}[who]
        session = world.tap(uid)
        world.pin(session, pin)
        return session

    yield world, control, published, staff_mode


def test_a_change_is_audited_once_and_the_schedule_goes_out_retained(service):
    from edge_agent.contract.payloads_content_control import ContentControlRequest

    world, control, published, staff_mode = service
    bob = staff_mode("bob")
    result = control.control(ContentControlRequest(session=bob, action="disable", section="attract", item="a"))
    assert result.revision == 1 and result.undo == "disable"
    topic, payload, retain = published[-1]
    assert topic == "t/content" and retain
    schedule = decode(CONTENT_SCHEDULE, payload).payload
    first = schedule.attract[0]
    assert (first.id, first.enabled, first.windows) == ("a", False, [])
    assert content_audits(world) == [("s-bob", "content-disable", "ok")]


def test_a_schedule_from_staff_without_the_manager_role_is_refused_audited_and_changes_nothing(service):
    from edge_agent.commands import CommandError
    from edge_agent.contract.payloads_content_control import ContentControlRequest

    world, control, published, staff_mode = service
    anna = staff_mode("anna")
    sent = len(published)
    with pytest.raises(CommandError, match="needs the manager role"):
        control.control(ContentControlRequest(session=anna, action="set-schedule", section="attract", item="a",
                                              schedule=Window(days=["sat"])))
    assert len(published) == sent and not control.overlays.load("proef").changed
    assert content_audits(world) == [("s-anna", "content-set-schedule", "refused")]


def test_a_request_outside_staff_mode_or_about_an_unknown_item_is_refused_and_audited(service):
    from edge_agent.commands import CommandError
    from edge_agent.contract import new_id
    from edge_agent.contract.payloads_content_control import ContentControlRequest

    world, control, _published, staff_mode = service
    anna = staff_mode("anna")
    with pytest.raises(CommandError, match="not in staff mode"):
        control.control(ContentControlRequest(session=new_id(), action="disable", section="attract", item="a"))
    with pytest.raises(CommandError, match="has no item 'zz'"):
        control.control(ContentControlRequest(session=anna, action="disable", section="attract", item="zz"))
    with pytest.raises(CommandError, match="nothing to undo"):
        control.control(ContentControlRequest(session=anna, action="undo"))
    assert content_audits(world) == [(None, "content-disable", "refused"), ("s-anna", "content-disable", "refused"),
                                     ("s-anna", "content-undo", "refused")]
    assert not control.overlays.load("proef").changed
