"""A content manifest cannot freeze the kiosk: limits checked before it is parsed further, and packs read off the
UI thread.

The loader counts while PyYAML composes the node graph (``kiosk.content._CountingLoader``): bytes before the file
is read, aliases, values with their aliases expanded, depth. The kiosk reads the folder in a worker thread and
keeps showing the pack in use meanwhile; the last test holds a read open (the manifest is a named pipe, as a
content folder on a network file system that hangs would be) and checks that the kiosk still answers.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import textwrap
import time
from pathlib import Path

import pytest

from kiosk.content import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    MAX_MANIFEST_BYTES,
    ContentError,
    ContentLibrary,
    load_pack,
)
from tests.test_kiosk_content import PNG


def billion_laughs(levels: int = 9) -> str:
    """The classic: nine lists, each of nine aliases of the one before (9⁹ strings once expanded)."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    names = "abcdefghijklmnopqrstuvwxyz"
    for before, name in itertools.pairwise(names[:levels]):
        lines.append(f"{name}: &{name} [{', '.join(['*' + before] * 9)}]")
    return "\n".join(lines) + "\n"


def manifest(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "content.yaml").write_text(text, encoding="utf-8")
    return folder


def refusal(folder: Path) -> str:
    with pytest.raises(ContentError) as caught:
        load_pack(folder)
    assert len(caught.value.problems) == 1, caught.value
    return str(caught.value.problems[0])


def test_an_alias_bomb_of_400_bytes_is_refused_before_its_aliases_are_expanded(tmp_path):
    text = billion_laughs()
    assert len(text.encode()) < 500
    folder = manifest(tmp_path / "pack", text)
    started = time.process_time()
    problem = refusal(folder)
    # Not asserted (timings are the benchmarks' business); before the limits this took minutes.
    print(f"alias bomb of {len(text.encode())} bytes refused in {time.process_time() - started:.4f} s of CPU")
    assert problem == (f"{folder / 'content.yaml'}:6: too large: more than {MAX_EXPANDED_NODES} values with its "
                       f"aliases expanded")


def test_a_kiosk_library_refuses_an_alias_bomb_and_keeps_the_good_pack(tmp_path):
    folder = manifest(tmp_path / "pack", 'pack: test\nversion: "1"\n')
    library = ContentLibrary(folder)
    assert library.current.version == "1"
    (folder / "content.yaml").write_text(billion_laughs(), encoding="utf-8")
    os.utime(folder / "content.yaml", ns=(0, 10**18))
    assert library.refresh() is False and library.current.version == "1"
    assert library.error is not None and "too large: more than" in library.error


def test_a_9_mb_manifest_is_refused_by_its_size_before_it_is_read(tmp_path):
    folder = tmp_path / "pack"
    folder.mkdir()
    # Sparse and all NUL bytes: read and parsed, it would be refused as "not valid YAML" instead.
    with open(folder / "content.yaml", "wb") as file:
        file.truncate(9 * 1000 * 1000)
    assert refusal(folder) == (f"{folder / 'content.yaml'}: too large: 9000000 bytes, more than the limit of "
                               f"{MAX_MANIFEST_BYTES}")


def test_a_manifest_that_grows_past_the_limit_while_read_is_refused_without_reading_more(tmp_path):
    # A named pipe has no size to look at first: what is read stops one byte past the limit.
    folder = tmp_path / "pack"
    folder.mkdir()
    os.mkfifo(folder / "content.yaml")
    import threading

    def write() -> None:
        with open(folder / "content.yaml", "wb") as pipe:
            try:
                for _ in range(MAX_MANIFEST_BYTES // 65536 + 2):
                    pipe.write(b"#" * 65536)
            except BrokenPipeError:
                pass  # the reader stopped at the limit

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    assert refusal(folder) == (f"{folder / 'content.yaml'}: too large: more than the limit of {MAX_MANIFEST_BYTES} "
                               f"bytes")
    writer.join(timeout=30)


@pytest.mark.parametrize("text, line", [
    ("[" * 100_000 + "]" * 100_000, 1),  # flow style: PyYAML's composer would hit Python's recursion limit
    ("pack:\n" + "".join(f"{'  ' * level}k:\n" for level in range(1, 60)), MAX_DEPTH),  # block style
], ids=["flow", "block"])
def test_deep_nesting_is_refused_before_the_recursion_limit(tmp_path, text, line):
    folder = manifest(tmp_path / "pack", text)
    problem = refusal(folder)
    assert problem == f"{folder / 'content.yaml'}:{line}: too large: nested deeper than {MAX_DEPTH} levels"


def test_nesting_made_deep_by_aliases_is_refused(tmp_path):
    # Each alias puts the 20 levels it names 20 levels down: 40 once expanded, though no line is deeper than 21.
    chain = "".join(f"{'  ' * level}k:\n" for level in range(20))
    text = (f"a: &deep\n{textwrap.indent(chain, '  ')}{'  ' * 21}leaf\n"
             "b:\n" + "".join(f"{'  ' * level}k:\n" for level in range(1, 19)) + f"{'  ' * 19}k: *deep\n")
    assert max(len(line) - len(line.lstrip()) for line in text.splitlines()) // 2 < MAX_DEPTH
    folder = manifest(tmp_path / "pack", text)
    assert refusal(folder) == f"{folder / 'content.yaml'}:42: too large: nested deeper than {MAX_DEPTH} levels"


def test_an_alias_inside_the_node_it_names_is_refused(tmp_path):
    folder = manifest(tmp_path / "pack", 'pack: test\nversion: "1"\nattract: &loop\n  - *loop\n')
    assert refusal(folder) == (f"{folder / 'content.yaml'}:4: too large: an alias inside the node it refers to "
                               f"(a structure without end)")


def test_too_many_aliases_are_refused(tmp_path):
    text = "x: &x lol\nitems:\n" + "".join("  - *x\n" for _ in range(MAX_ALIASES + 1))
    folder = manifest(tmp_path / "pack", text)
    assert refusal(folder) == (f"{folder / 'content.yaml'}:{MAX_ALIASES + 3}: too large: more than {MAX_ALIASES} "
                               f"aliases")


def test_a_few_aliases_in_a_good_manifest_are_still_read(tmp_path):
    folder = manifest(tmp_path / "pack", textwrap.dedent("""\
        pack: test
        version: "1"
        inspire:
          - carousel: lente
            title: &title {nl: Het voorjaar, en: Spring}
            items: [{gtin: "8712345000011", caption: *title}, {gtin: "8712345000028", caption: *title}]
        """))
    pack = load_pack(folder)
    assert [item.caption.text("en") for item in pack.all_carousels[0].items] == ["Spring", "Spring"]


def test_the_most_entries_the_schema_allows_are_within_the_limits(tmp_path):
    # 100 carousels of 100 items, each with a caption in three languages: the schema's maximum by count.
    lines = ['pack: big', 'version: "1"', 'inspire:']
    for carousel in range(100):
        lines.append(f'  - {{carousel: c{carousel}, title: {{nl: "Titel", en: "Title", fr: "Titre"}}, items: [')
        lines.extend(f'      {{gtin: "87123450{carousel:03d}{item:03d}", caption: {{nl: a, en: b, fr: c}}}},'
                     for item in range(100))
        lines.append('    ]}')
    folder = manifest(tmp_path / "pack", "\n".join(lines) + "\n")
    pack = load_pack(folder)
    assert len(pack.all_carousels) == 100 and {len(carousel.items) for carousel in pack.all_carousels} == {100}


# --------------------------------------------------------------------------- the kiosk reads off its UI thread


def open_writer(fifo: Path, timeout: float) -> int:
    """The write end of ``fifo`` once someone has it open for reading (the kiosk's reader is inside it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_pack_read_that_hangs_leaves_the_kiosk_answering_and_showing_the_good_pack(
        xvfb, mosquitto, publisher, tmp_path):
    from edge_agent.contract import Topics, new_id
    from tests.support.kiosk import KioskProcess, publish_session

    folder = tmp_path / "pack"
    (folder / "attract").mkdir(parents=True)
    (folder / "attract" / "lente.png").write_bytes(PNG)
    good = ('pack: test\nversion: "{v}"\nattract:\n'
            '  - image: attract/lente.png\n    id: lente\n    caption: {{nl: "{caption}"}}\n')
    (folder / "content.yaml").write_text(good.format(v=1, caption="Het voorjaar is begonnen"))
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[content]\nfolder = "{folder}"\ncheck_s = 1\n')
    store = f"store-{new_id()[-8:]}"
    topics = Topics(store, "kiosk-1")
    app = KioskProcess(xvfb, mosquitto.port, store, "kiosk-1", tmp_path / "kiosk", args=("--config", str(config)))
    writer = None
    try:
        app.start()
        app.wait_screen("bereik", "Het voorjaar is begonnen", timeout=15)
        # The manifest becomes a pipe nobody writes to: the kiosk's reader waits inside it, for ever.
        os.mkfifo(tmp_path / "pipe")
        os.replace(tmp_path / "pipe", folder / "content.yaml")
        writer = open_writer(folder / "content.yaml", timeout=20)

        # Meanwhile the kiosk answers: a tap greets the customer, the status file follows, the pack stays.
        pub = publisher(mosquitto)
        sid = publish_session(pub, topics)
        app.wait_screen("begrijp", "Sanne", timeout=15)
        publish_session(pub, topics, sid=sid, state="ended", reason="card-removed")
        status = app.wait_screen("bereik", "Het voorjaar is begonnen", timeout=15)
        assert status["connected"]

        # The read completes: the new pack is taken into use.
        os.write(writer, good.format(v=2, caption="De zomer").encode())
        os.close(writer)
        writer = None
        app.wait_screen("bereik", "De zomer", timeout=20)
        assert "content pack test 2 in use" in app.log()
    finally:
        if writer is not None:
            os.close(writer)
        with contextlib.suppress(OSError):  # a reader waiting in the pipe again reads its end
            os.close(os.open(folder / "content.yaml", os.O_WRONLY | os.O_NONBLOCK))
        assert app.stop() == 0, app.log()[-2000:]


@pytest.fixture(scope="module")
def xvfb():
    from tests.support.xvfb import Xvfb

    with Xvfb() as display:
        yield display
