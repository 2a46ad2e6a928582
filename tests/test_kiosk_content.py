"""Content packs: the manifest's checks (file:line: key: what), schedules, keeping the last good pack, the
demo pack's generated media (read back with OpenCV and ffpyplayer) and the attract loop in the real kiosk."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import textwrap
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.content import ContentError, ContentLibrary, ContentPack, Localized, load_pack, save_copy

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "content" / "tuincentrum"
FIXTURES = ROOT / "config" / "central-fixtures.example.yaml"
AMS = ZoneInfo("Europe/Amsterdam")

# A 1x1 PNG that decodes (the kiosk's attract loop skips a picture it cannot decode: kiosk.attract_stage).
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154081d63d05810f01f0004240218aed7d5980000000049454e44ae426082")


def make_media_module():
    spec = importlib.util.spec_from_file_location("make_media", DEMO / "make_media.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo_pack(tmp_path_factory) -> tuple[Path, None]:
    """A copy of the demo pack with its media drawn; (folder, None)."""
    folder = tmp_path_factory.mktemp("tuincentrum")
    shutil.copy(DEMO / "content.yaml", folder / "content.yaml")
    make_media_module().build_media(folder)
    return folder, None


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- the demo pack


def test_the_demo_pack_loads_and_has_every_catalogue_product_picture_and_video(demo_pack):
    folder, _ = demo_pack
    pack = load_pack(folder, AMS)
    assert (pack.name, pack.version) == ("tuincentrum-de-linde", "2026.11.1")
    catalogue = yaml.safe_load(FIXTURES.read_text())["catalogue"]
    assert {product["gtin"] for product in catalogue} == {f"87123450000{n}" for n in ("11", "28", "35", "42", "59",
                                                                                        "66")}
    for product in catalogue:
        for image in product["images"]:
            assert pack.media(image) is not None, image
        if product.get("video"):
            assert pack.media(product["video"]) is not None, product["video"]
        assert pack.image_for("0" + product["gtin"]) == pack.media(product["images"][0])  # 14-digit GTIN
    [lawn] = pack.instructions_for(["08712345000035"])
    assert lawn.id == "gazon-bemesten" and lawn.video == pack.media("videos/gazon-bemesten.mp4")
    assert lawn.title.text("fr") == "Fertiliser sa pelouse en 4 étapes" and lawn.poster.is_file()
    assert [item.id for item in pack.instructions_for([], ["gereedschap"])] == ["snoeien"]
    assert pack.instruction("snoeien").video == pack.media("videos/snoeien.mp4")
    # The spring season runs from 30 days before the day the pack was loaded up to 180 days after it, like
    # central's offers in the fixtures: the demo never runs out of season.
    today = datetime.now(AMS).replace(hour=10, minute=0, second=0, microsecond=0)
    monday = today + timedelta(days=7 - today.weekday())  # the next Monday, in the season
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    shown = pack.attract(monday)
    assert [(item.kind, item.path.name) for item in shown] == [
        ("image", "voorjaar-gazonmest.png"), ("video", "gazon-bemesten.mp4"), ("image", "handschoenen-vanaf-50.png"),
        ("image", "klantenpas.png")]
    assert shown[0].caption.text("nl") == "Voorjaarsactie: 10% korting op alle gazonmest"
    assert shown[2].caption.text("en") == "Free garden gloves when you spend €50 or more"
    after_season = today + timedelta(days=181 + (7 - (today + timedelta(days=181)).weekday()))  # a Monday
    assert [item.path.name for item in pack.attract(after_season)] == ["gazon-bemesten.mp4", "klantenpas.png"]
    assert pack.attract(saturday)[-1].path.name == "snoeien.mp4"
    assert [c.id for c in pack.carousels(monday)] == ["voorjaar", "tuinonderhoud"]
    assert [c.id for c in pack.carousels(today + timedelta(days=210))] == ["tuinonderhoud"]
    assert [c.id for c in pack.carousels(today - timedelta(days=31))] == ["tuinonderhoud"]


def test_the_demo_media_are_drawn_the_same_every_time_and_only_what_is_missing_again(demo_pack, tmp_path):
    # How long the drawing takes is not asserted here (a busy machine takes twice as long): it is
    # what the demo's first start costs, and the demo test waits for it.
    folder, _ = demo_pack
    media = make_media_module()
    media.build_media(tmp_path)
    names = sorted(media.media())
    assert [digest(tmp_path / name) for name in names] == [digest(folder / name) for name in names]
    # Only what is missing is drawn again.
    (tmp_path / "products" / "snoeischaar.jpg").unlink()
    before = {name: (tmp_path / name).stat().st_mtime_ns for name in names if name != "products/snoeischaar.jpg"}
    media.build_media(tmp_path)
    assert digest(tmp_path / "products" / "snoeischaar.jpg") == digest(folder / "products" / "snoeischaar.jpg")
    assert {name: (tmp_path / name).stat().st_mtime_ns for name in before} == before
    assert not list(tmp_path.rglob(".*.part.*"))


def test_the_generated_pictures_read_back_with_opencv(demo_pack):
    folder, _ = demo_pack
    sizes = {"products": (600, 600, 3), "attract": (720, 1280, 3), "posters": (360, 640, 3),
             "brand": (240, 240, 4)}  # the logo keeps its transparency
    pictures = [path for path in folder.rglob("*") if path.suffix in (".jpg", ".png")]
    assert len(pictures) == 6 + 3 + 2 + 1
    for path in pictures:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert image is not None and image.shape == sizes[path.parent.name], path
        assert image.std() > 20, f"{path} is nearly blank"


@pytest.mark.parametrize("name, seconds", [("gazon-bemesten.mp4", 26.0), ("snoeien.mp4", 8.0)])
def test_the_instruction_videos_decode_with_ffpyplayer_and_opencv(demo_pack, name, seconds):
    from ffpyplayer.player import MediaPlayer

    path = demo_pack[0] / "videos" / name
    capture = cv2.VideoCapture(str(path))
    try:
        assert capture.isOpened()
        assert capture.get(cv2.CAP_PROP_FPS) == 25
        assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (640, 360)
        frames = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames += 1
        assert frames == seconds * 25
    finally:
        capture.release()
    # ffpyplayer is what Kivy's Video widget plays with in the kiosk.
    player = MediaPlayer(str(path), ff_opts={"an": True, "sync": "video", "out_fmt": "rgb24"})
    try:
        decoded, times = [], []
        deadline = time.monotonic() + 15
        while len(decoded) < 30 and time.monotonic() < deadline:
            frame, value = player.get_frame()
            if value == "eof":
                break
            if frame is None:
                time.sleep(0.005)
                continue
            image, pts = frame
            decoded.append(image.get_size())
            times.append(pts)
        metadata = player.get_metadata()
    finally:
        player.close_player()
    assert len(decoded) == 30 and set(decoded) == {(640, 360)}
    assert times == sorted(times) and times[-1] == pytest.approx(29 / 25, abs=0.05)  # 25 frames a second
    assert metadata["duration"] == pytest.approx(seconds, abs=0.1) and metadata["frame_rate"] == (25, 1)


# --------------------------------------------------------------------------- mistakes in a manifest


def small_pack(folder: Path, manifest: str) -> Path:
    """A pack with an image and a (fake) video, and ``manifest``."""
    (folder / "attract").mkdir(parents=True, exist_ok=True)
    (folder / "videos").mkdir(exist_ok=True)
    (folder / "attract" / "lente.png").write_bytes(PNG)
    (folder / "videos" / "film.mp4").write_bytes(b"not decoded by the checks")
    (folder / "content.yaml").write_text(textwrap.dedent(manifest))
    return folder


GOOD = """\
    pack: test
    version: "1"
    attract:
      - image: attract/lente.png
        id: lente
        seconds: 5
        caption: {nl: Het voorjaar is begonnen, en: Spring has started}
      - video: videos/film.mp4
        id: film
    inspire:
      - carousel: lente
        title: {nl: Lente}
        items:
          - {gtin: "8712345000011", image: attract/lente.png}
    instructions:
      - id: film
        title: {nl: Film}
        video: videos/film.mp4
        products: ["8712345000011"]
    """


def test_a_small_pack_loads_with_defaults(tmp_path):
    pack = load_pack(small_pack(tmp_path, GOOD))
    image, video = pack.attract(datetime(2026, 1, 1))
    assert (image.kind, image.seconds, image.path) == ("image", 5, (tmp_path / "attract" / "lente.png").resolve())
    assert image.caption == Localized(nl="Het voorjaar is begonnen", en="Spring has started")
    assert image.caption.text("fr") == "Het voorjaar is begonnen" and image.caption.text("en") == "Spring has started"
    assert (video.kind, video.seconds, video.caption) == ("video", 20.0, None)
    assert pack.files == ("content.yaml", "attract/lente.png", "videos/film.mp4")
    assert pack.media("attract/../attract/lente.png") == image.path
    assert pack.media("../content.yaml") is None and pack.media("/etc/passwd") is None and pack.media("") is None
    assert pack.media("attract/zomer.png") is None
    assert Localized(fr="Printemps").text("nl") == "Printemps" and Localized().text("nl") == ""


@pytest.mark.parametrize("manifest, problem", [
    ("attract: [\n", "content.yaml:2: not valid YAML"),
    ('pack: test\nversion: "1"\nattract:\n  - image: attract/lente.png\n    id: lente\n    colour: red\n',
     "content.yaml:6: attract.0.colour: unknown key (allowed: id, image, video, seconds, caption, when)"),
    ('pack: test\nattract: []\n', "content.yaml:1: version: missing: this key is required"),
    ('pack: test\nversion: 2026.11\n', "content.yaml:2: version: Input should be a valid string"),
    ('pack: Test Pack\nversion: "1"\n', "content.yaml:1: pack: String should match pattern"),
    ('pack: test\nversion: "1"\nattract:\n  - image: attract/lente.png\n    id: lente\n    seconds: 1\n',
     "content.yaml:6: attract.0.seconds: Input should be greater than or equal to 2"),
    ('pack: test\nversion: "1"\nattract:\n  - image: attract/lente.png\n    id: lente\n    video: videos/film.mp4\n',
     "content.yaml:4: attract.0: give either 'image' or 'video'"),
    ('pack: test\nversion: "1"\nattract:\n  - image: attract/zomer.png\n    id: zomer\n',
     "content.yaml:4: attract.0.image: attract/zomer.png does not exist"),
    ('pack: test\nversion: "1"\nattract:\n  - image: videos/film.mp4\n    id: film\n',
     "content.yaml:4: attract.0.image: 'videos/film.mp4' is not an image (use .png, .jpg"),
    ('pack: test\nversion: "1"\ninstructions:\n  - id: a\n    title: {nl: A}\n    video: attract/lente.png\n',
     "content.yaml:6: instructions.0.video: 'attract/lente.png' is not a video (use .mp4"),
    ('pack: test\nversion: "1"\nattract:\n  - image: ../geheim.png\n    id: geheim\n',
     "content.yaml:4: attract.0.image: '../geheim.png' must be a path inside the pack folder"),
    ('pack: test\nversion: "1"\nattract:\n  - image: /etc/geheim.png\n    id: geheim\n',
     "content.yaml:4: attract.0.image: '/etc/geheim.png' must be a path inside the pack folder"),
    (('pack: test\nversion: "1"\nattract:\n  - image: attract/lente.png\n    id: lente\n    caption:\n      nl: Lente\n'
     '      de: Frühling\n'), "content.yaml:8: attract.0.caption.de: unknown language 'de' (use nl, en, fr)"),
    (('pack: test\nversion: "1"\nattract:\n'
     '  - image: attract/lente.png\n    id: lente\n    when: {hours: "22:00-02:00"}\n'),
     ("content.yaml:6: attract.0.when.hours: '22:00-02:00' ends before it starts; a range may not cross midnight: "
     "write 22:00-24:00 and 00:00-02:00")),
    (('pack: test\nversion: "1"\nattract:\n'
     '  - image: attract/lente.png\n    id: lente\n    when:\n      hours: ["8-18"]\n'),
     "content.yaml:7: attract.0.when.hours: '8' is not a time (HH:MM)"),
    (('pack: test\nversion: "1"\nattract:\n'
     '  - image: attract/lente.png\n    id: lente\n    when:\n      days: [mon, zon]\n'),
     "content.yaml:7: attract.0.when.days.1: Input should be 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun'"),
    (('pack: test\nversion: "1"\nattract:\n'
      '  - image: attract/lente.png\n    id: lente\n    when:\n      from: 2027-06-01\n'
     '      until: 2027-05-01\n'), "content.yaml:6: attract.0.when: 'until' must be after 'from'"),
    (('pack: test\nversion: "1"\ninspire:\n  - carousel: lente\n    title: {nl: A}\n    items: [{gtin: "87123"}]\n'
     '  - carousel: lente\n    title: {nl: B}\n    items: [{gtin: "8712345000011"}]\n'),
     "content.yaml:6: inspire.0.items.0.gtin: String should match pattern"),
    (('pack: test\nversion: "1"\ninspire:\n'
     '  - carousel: lente\n    title: {nl: A}\n    items: [{gtin: "8712345000011"}]\n'
     '  - carousel: lente\n    title: {nl: B}\n    items: [{gtin: "8712345000011"}]\n'),
     "content.yaml:7: inspire.1.carousel: duplicate carousel id 'lente' (also at line 4)"),
    ('pack: test\nversion: "1"\npack: other\n', "content.yaml:3: pack: given twice"),
    ('- just\n- a list\n', "content.yaml:1: (top level): expected a mapping (key: value lines)"),
    ('pack: test\nversion: "1"\nattract:\n  - attract/lente.png\n',
     "content.yaml:4: attract.0: expected a mapping (key: value lines)"),
    ('', "content.yaml:1: (top level): empty"),
])
def test_a_broken_manifest_names_file_line_key_and_problem(tmp_path, manifest, problem):
    small_pack(tmp_path, GOOD)
    (tmp_path / "content.yaml").write_text(manifest)
    with pytest.raises(ContentError) as raised:
        load_pack(tmp_path)
    assert str(raised.value).startswith(f"{tmp_path / 'content.yaml'}:"), str(raised.value)
    assert problem in str(raised.value), str(raised.value)


def test_every_problem_of_a_manifest_is_reported_in_line_order(tmp_path):
    small_pack(tmp_path, """\
        pack: test
        version: "1"
        attract:
          - image: attract/zomer.png
            id: zomer
            seconds: 1
          - video: videos/film.mp4
            id: film
            caption: {en: Film, es: Película}
        instructions:
          - id: film
            video: ../film.mp4
        """)
    with pytest.raises(ContentError) as raised:
        load_pack(tmp_path)
    manifest = tmp_path / "content.yaml"
    assert [str(problem) for problem in raised.value.problems] == [
        f"{manifest}:4: attract.0.image: attract/zomer.png does not exist",
        f"{manifest}:6: attract.0.seconds: Input should be greater than or equal to 2",
        f"{manifest}:9: attract.1.caption.es: unknown language 'es' (use nl, en, fr)",
        f"{manifest}:11: instructions.0.title: missing: this key is required",
        (f"{manifest}:12: instructions.0.video: '../film.mp4' must be a path inside the pack folder (relative, "
        f"without '..')"),
    ]
    assert str(raised.value) == "\n".join(str(problem) for problem in raised.value.problems)


def test_a_symlink_out_of_the_pack_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "geheim.png").write_bytes(PNG)
    pack = small_pack(tmp_path / "pack", GOOD)
    (pack / "attract" / "link.png").symlink_to(outside / "geheim.png")
    (pack / "content.yaml").write_text('pack: test\nversion: "1"\nattract:\n'
                                       '  - image: attract/link.png\n    id: link\n')
    with pytest.raises(ContentError, match=r"content.yaml:4: attract.0.image: 'attract/link.png' leads outside"):
        load_pack(pack)
    (pack / "content.yaml").write_text(textwrap.dedent(GOOD))
    assert load_pack(pack).media("attract/link.png") is None


def test_a_missing_manifest_is_a_problem_without_a_line(tmp_path):
    with pytest.raises(ContentError, match=r"content.yaml: cannot read: No such file or directory"):
        load_pack(tmp_path)


# --------------------------------------------------------------------------- schedules


def scheduled(tmp_path: Path, when: str) -> ContentPack:
    return load_pack(small_pack(tmp_path, f"""\
        pack: test
        version: "1"
        attract:
          - image: attract/lente.png
            id: lente
            when: {when}
        inspire:
          - carousel: lente
            title: {{nl: Lente}}
            when: {when}
            items: [{{gtin: "8712345000011"}}]
        """), AMS)


@pytest.mark.parametrize("when, now, shown", [
    ("{from: 2026-11-01, until: 2027-06-01}", datetime(2026, 10, 31, 23, 59, tzinfo=AMS), False),
    ("{from: 2026-11-01, until: 2027-06-01}", datetime(2026, 11, 1, 0, 0, tzinfo=AMS), True),
    ("{from: 2026-11-01, until: 2027-06-01}", datetime(2027, 5, 31, 23, 59, tzinfo=AMS), True),
    ("{from: 2026-11-01, until: 2027-06-01}", datetime(2027, 6, 1, 0, 0, tzinfo=AMS), False),
    # The store's date, not UTC's: 31 Oct 23:30 UTC is already 1 Nov in Amsterdam.
    ("{from: 2026-11-01}", datetime(2026, 10, 31, 23, 30, tzinfo=UTC), True),
    ("{until: 2026-11-01}", datetime(2026, 10, 31, 23, 30, tzinfo=UTC), False),
    ("{days: [sat, sun]}", datetime(2026, 11, 28, 12, 0, tzinfo=AMS), True),
    ("{days: [sat, sun]}", datetime(2026, 11, 27, 23, 59, tzinfo=AMS), False),
    ('{hours: "08:00-18:00"}', datetime(2026, 11, 23, 7, 59, tzinfo=AMS), False),
    ('{hours: "08:00-18:00"}', datetime(2026, 11, 23, 8, 0, tzinfo=AMS), True),
    ('{hours: "08:00-18:00"}', datetime(2026, 11, 23, 17, 59, tzinfo=AMS), True),
    ('{hours: "08:00-18:00"}', datetime(2026, 11, 23, 18, 0, tzinfo=AMS), False),
    # Summer time: 06:30 UTC is 08:30 in Amsterdam in June, 07:30 in November.
    ('{hours: "08:00-18:00"}', datetime(2027, 6, 14, 6, 30, tzinfo=UTC), True),
    ('{hours: "08:00-18:00"}', datetime(2026, 11, 23, 6, 30, tzinfo=UTC), False),
    ('{hours: ["00:00-02:00", "22:00-24:00"]}', datetime(2026, 11, 23, 23, 59, 59, tzinfo=AMS), True),
    ('{hours: ["00:00-02:00", "22:00-24:00"]}', datetime(2026, 11, 23, 1, 0, tzinfo=AMS), True),
    ('{hours: ["00:00-02:00", "22:00-24:00"]}', datetime(2026, 11, 23, 12, 0, tzinfo=AMS), False),
    ('{days: [fri], hours: "17:00-21:00", from: 2026-12-01}', datetime(2026, 12, 4, 18, 0, tzinfo=AMS), True),
    ('{days: [fri], hours: "17:00-21:00", from: 2026-12-01}', datetime(2026, 11, 27, 18, 0, tzinfo=AMS), False),
    ('{days: [fri], hours: "17:00-21:00", from: 2026-12-01}', datetime(2026, 12, 5, 18, 0, tzinfo=AMS), False),
])
def test_attract_items_and_carousels_show_by_date_day_and_hour(tmp_path, when, now, shown):
    pack = scheduled(tmp_path, when)
    assert bool(pack.attract(now)) is shown and bool(pack.carousels(now)) is shown


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@settings(max_examples=150, deadline=None)
@given(instant=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)),
       start=st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)), length=st.integers(1, 400),
       days=st.sets(st.sampled_from(DAY_NAMES), min_size=1), first=st.integers(0, 23), hours=st.integers(1, 24))
def test_a_schedule_shows_exactly_within_its_dates_days_and_hours_on_the_store_clock(
        tmp_path_factory, instant, start, length, days, first, hours):
    folder = tmp_path_factory.mktemp("schedule")
    until, last = start + timedelta(days=length), min(24, first + hours)
    when = (f'{{from: {start}, until: {until}, days: [{", ".join(sorted(days))}], '
            f'hours: "{first:02d}:00-{last:02d}:00"}}')
    pack = scheduled(folder, when)
    local = instant.astimezone(AMS)
    expected = (start <= local.date() < until and DAY_NAMES[local.weekday()] in days and first <= local.hour < last)
    assert bool(pack.attract(instant)) is expected


# --------------------------------------------------------------------------- the pack in use


def good_pack(folder: Path, version: str) -> Path:
    return small_pack(folder, GOOD.replace('version: "1"', f'version: "{version}"'))


def touch_later(path: Path) -> None:
    """Change ``path``'s modification time as a new copy of the file would (mtime resolution varies)."""
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 2_000_000_000))


def test_a_broken_new_pack_is_refused_and_the_good_one_kept_until_it_is_fixed(tmp_path, caplog):
    folder = good_pack(tmp_path / "pack", "1")
    library = ContentLibrary(folder)
    assert library.current.version == "1" and library.error is None and library.revision == 1
    assert library.refresh() is False  # nothing changed: nothing read

    (folder / "content.yaml").write_text('pack: test\nversion: "2"\nattract:\n'
                                         '  - image: attract/zomer.png\n    id: zomer\n')
    assert library.refresh() is False
    assert library.current.version == "1" and library.current.attract(datetime(2026, 1, 1))
    assert library.error == f"{folder / 'content.yaml'}:4: attract.0.image: attract/zomer.png does not exist"
    assert "content pack in" in caplog.text and "keeping test 1" in caplog.text
    caplog.clear()
    assert library.refresh() is False and caplog.text == ""  # logged once, not at every check

    # The missing picture arrives: the pack it completes is taken into use.
    (folder / "attract" / "zomer.png").write_bytes(PNG)
    assert library.refresh() is True
    assert library.current.version == "2" and library.error is None and library.revision == 2
    assert [item.path.name for item in library.current.attract(datetime(2026, 1, 1))] == ["zomer.png"]

    # A changed medium (same manifest) is noticed too.
    touch_later(folder / "attract" / "zomer.png")
    assert library.refresh() is True and library.revision == 3

    # The manifest removed: the pack in use stays.
    (folder / "content.yaml").unlink()
    assert library.refresh() is False and library.current.version == "2"
    assert "cannot read" in library.error


def test_a_restart_with_a_broken_pack_uses_the_last_good_copy(tmp_path):
    folder, copy = good_pack(tmp_path / "pack", "1"), tmp_path / "last-good"
    (folder / "notes.txt").write_text("not part of the pack")
    library = ContentLibrary(folder, last_good=copy, tz=AMS)
    assert library.current.folder == folder.resolve()
    assert sorted(path.relative_to(copy).as_posix() for path in copy.rglob("*") if path.is_file()) == [
        "attract/lente.png", "content.yaml", "videos/film.mp4"]
    assert save_copy(library.current, copy) is False  # the same files are not copied again
    assert [p.name for p in tmp_path.iterdir()] != [] and not list(tmp_path.glob(".last-good.*"))

    # A newer good pack replaces the copy.
    (folder / "content.yaml").write_text(textwrap.dedent(GOOD.replace('version: "1"', 'version: "2"')))
    touch_later(folder / "content.yaml")
    assert library.refresh() is True and load_pack(copy).version == "2"

    # Broken, then the kiosk restarts: the copy is shown, the error says why.
    (folder / "content.yaml").write_text("pack: test\nversion: [\n")
    restarted = ContentLibrary(folder, last_good=copy, tz=AMS)
    assert restarted.current.version == "2" and restarted.current.folder == copy.resolve()
    assert restarted.error.startswith(f"{folder / 'content.yaml'}:3: not valid YAML")
    assert restarted.current.attract(datetime(2026, 1, 1))[0].path == (copy / "attract" / "lente.png").resolve()
    assert load_pack(copy).version == "2"  # a broken pack never reaches the copy

    # Fixed: the folder's pack is used again.
    (folder / "content.yaml").write_text(textwrap.dedent(GOOD.replace('version: "1"', 'version: "3"')))
    assert restarted.refresh() is True and restarted.current.folder == folder.resolve()
    assert restarted.current.version == "3" and restarted.error is None and load_pack(copy).version == "3"

    # The folder gone altogether at start: the copy again.
    shutil.rmtree(folder)
    assert ContentLibrary(folder, last_good=copy).current.version == "3"


def test_without_a_pack_the_library_is_empty(tmp_path):
    library = ContentLibrary(None)
    assert not library.current and library.error is None and library.refresh() is False
    assert library.current.attract(datetime(2026, 1, 1)) == [] and library.current.media("x.png") is None
    missing = ContentLibrary(tmp_path / "nothing-here")
    assert not missing.current and "cannot read" in missing.error


# --------------------------------------------------------------------------- the kiosk shows it


@pytest.fixture(scope="module")
def xvfb():
    from tests.support.xvfb import Xvfb

    with Xvfb() as display:
        yield display


def test_the_kiosk_loops_the_demo_pack_with_its_muted_video(xvfb, mosquitto, demo_pack, tmp_path):
    from edge_agent.contract import new_id
    from tests.support.kiosk import KioskProcess

    app = KioskProcess(xvfb, mosquitto.port, f"store-{new_id()[-8:]}", "kiosk-1", tmp_path / "kiosk",
                       args=("--content", str(demo_pack[0])))
    try:
        app.start()
        status = app.wait_screen("bereik", "Voorjaarsactie: 10% korting op alle gazonmest",
                                 "Houd uw klantenpas bij de lezer", timeout=15)
        assert status["attract"]["kind"] == "image" and status["attract"]["path"] == "attract/voorjaar-gazonmest.png"
        app.keep(status, "bereik-demo-pack-800x480")
        status = app.wait(lambda s: s["attract"]["path"] == "videos/gazon-bemesten.mp4"
                          and s["attract"]["loaded"] and s["attract"]["position"] >= 2, timeout=25)
        assert status["attract"]["kind"] == "video" and status["attract"]["duration"] == pytest.approx(26, abs=0.5)
        assert app.shows(status, "Gazon bemesten in 4 stappen")
        app.keep(app.wait(lambda s: s["attract"]["position"] >= 3, timeout=5), "bereik-demo-video-800x480")
    finally:
        assert app.stop() == 0, app.log()[-2000:]
    # Kivy's own complaints about this machine (no mtdev, no xsel) are not the pack's.
    about_the_pack = [line for line in app.log().splitlines()
                      if (" ERROR " in line or " WARNING " in line or "Traceback" in line)
                      and ("kiosk.content" in line or "screens.bereik" in line or str(demo_pack[0]) in line)]
    assert about_the_pack == []


def test_an_attract_video_stays_loaded_between_its_slots_and_starts_again_from_the_top(
        xvfb, mosquitto, demo_pack, tmp_path):
    """One player per video, loaded once: loading it for every slot grew the kiosk ~1 MB a load."""
    from edge_agent.contract import new_id
    from tests.support.kiosk import KioskProcess

    folder = small_pack(tmp_path / "pack", """\
        pack: test
        version: "1"
        attract:
          - video: videos/film.mp4
            id: film
            seconds: 3
            caption: {nl: De film}
          - image: attract/lente.png
            id: lente
            seconds: 2
            caption: {nl: Het voorjaar is begonnen}
        """)
    shutil.copy(demo_pack[0] / "videos" / "snoeien.mp4", folder / "videos" / "film.mp4")
    app = KioskProcess(xvfb, mosquitto.port, f"store-{new_id()[-8:]}", "kiosk-1", tmp_path / "kiosk",
                       args=("--content", str(folder)))
    try:
        app.start()
        first = app.wait(lambda s: s["attract"]["kind"] == "video" and s["attract"]["position"] >= 2, timeout=15)
        assert first["attract"]["players"] == 1
        app.wait_screen("bereik", "Het voorjaar is begonnen", timeout=5)
        again = app.wait(lambda s: s["attract"]["kind"] == "video" and s["attract"]["loaded"], timeout=5)
        assert again["attract"]["players"] == 1, "the video was loaded a second time"
        assert again["attract"]["position"] < 1.5, "the slot did not start the video from the top"
        assert app.shows(again, "De film")
    finally:
        assert app.stop() == 0, app.log()[-2000:]


def test_the_kiosk_keeps_showing_the_good_pack_when_a_broken_one_arrives(xvfb, mosquitto, tmp_path):
    from edge_agent.contract import new_id
    from tests.support.kiosk import KioskProcess

    folder = small_pack(tmp_path / "pack", """\
        pack: test
        version: "1"
        attract:
          - image: attract/lente.png
            id: lente
            seconds: 2
            caption: {nl: Het voorjaar is begonnen}
        """)
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[content]\nfolder = "{folder}"\nlast_good = "{tmp_path / "last-good"}"\ncheck_s = 1\n')
    app = KioskProcess(xvfb, mosquitto.port, f"store-{new_id()[-8:]}", "kiosk-1", tmp_path / "kiosk",
                       args=("--config", str(config)))
    try:
        app.start()
        app.wait_screen("bereik", "Het voorjaar is begonnen", timeout=15)
        (folder / "content.yaml").write_text(
            'pack: test\nversion: "2"\nattract:\n'
            '  - image: attract/zomer.png\n    id: zomer\n    caption: {nl: De zomer}\n')
        deadline = time.monotonic() + 10
        problem = f"{folder / 'content.yaml'}:4: attract.0.image: attract/zomer.png does not exist"
        while problem not in app.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert problem in app.log()
        time.sleep(2.5)  # a whole slide later: still the good pack
        status = app.wait_screen("bereik", "Het voorjaar is begonnen")
        assert not app.shows(status, "De zomer")
        shutil.copy(folder / "attract" / "lente.png", folder / "attract" / "zomer.png")
        status = app.wait_screen("bereik", "De zomer", timeout=10)
        shown = {key: value for key, value in status["attract"].items() if key not in ("shows", "next_ready")}
        assert shown == {"kind": "image", "path": "attract/zomer.png", "items": ["zomer"], "loaded": False,
                         "position": 0.0, "duration": 0.0, "players": 0}
        assert load_pack(tmp_path / "last-good").version == "2"
    finally:
        assert app.stop() == 0, app.log()[-2000:]
