"""Reading a content manifest with the limits (kiosk/content.py's counting loader) vs PyYAML's plain safe loader,
in the same run; and how fast a "billion laughs" manifest is refused.

Ours: ``_CountingLoader`` composing and constructing the manifest, counting aliases, values with aliases
expanded and depth as it goes (what ``load_pack`` does before validating). Raw: ``yaml.SafeLoader`` composing
and constructing the same text, without counting. Two manifests: the demo pack's (4 kB) and one with as many
entries as the schema allows (100 carousels of 100 items, 1.3 MB). Rounds alternate; medians over rounds.
Target: ours <= 1.2x raw on the large manifest (what the limits cost).

Information: the alias bomb (nine lists of nine aliases, ~400 bytes) refused by ``load_pack``, in ms of CPU;
before the limits the duplicate-key check walked all 9^9 expansions (minutes). The plain loader is not timed on
it: constructing shares the aliased lists, so it is quick, and what follows (a walk, validation) is the cost.

    .venv/bin/python bench/content_manifest.py [--quick] [--rounds N]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import _common as common
import yaml
from _common import Row

from kiosk.content import ContentError, _CountingLoader, load_pack

TARGET_RATIO = 1.2
ROOT = Path(__file__).resolve().parent.parent


def large_manifest(carousels: int, items: int) -> str:
    lines = ["pack: big", 'version: "1"', "inspire:"]
    for carousel in range(carousels):
        lines.append(f'  - carousel: c{carousel}\n    title: {{nl: "Titel {carousel}", en: "Title", fr: "Titre"}}'
                     "\n    items:")
        lines.extend(f'      - {{gtin: "87123450{carousel:03d}{item:03d}", caption: {{nl: "Product {item} van '
                     f'carousel {carousel}", en: "Product {item}", fr: "Produit {item}"}}}}' for item in range(items))
    return "\n".join(lines) + "\n"


def bomb() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for before, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + before] * 9)}]")
    return "\n".join(lines) + "\n"


def read(loader_class: type, text: str) -> float:
    started = time.perf_counter()
    loader = loader_class(text)
    try:
        loader.construct_document(loader.get_single_node())
    finally:
        loader.dispose()
    return (time.perf_counter() - started) * 1000


def main() -> int:
    args = common.parser(__doc__.splitlines()[0], rounds=7).parse_args()
    rounds = common.rounds_of(args)
    texts = {"demo manifest (4 kB)": (ROOT / "content" / "tuincentrum" / "content.yaml").read_text(encoding="utf-8"),
             "largest by count (1.3 MB)": large_manifest(10, 10) if args.quick else large_manifest(100, 100)}
    rows = []
    for label, text in texts.items():
        ours: list[float] = []
        raw: list[float] = []
        for index in range(rounds):
            common.alternate(index, lambda text=text, ours=ours: ours.append(read(_CountingLoader, text)),
                             lambda text=text, raw=raw: raw.append(read(yaml.SafeLoader, text)))
        ratios = [a / b for a, b in zip(ours, raw, strict=True)]
        ratio = statistics.median(ratios)
        checked = label.startswith("largest")
        rows.append(Row(f"{label}: compose + construct", common.median(ours), common.median(raw), "ms", ratio,
                        f"<= {TARGET_RATIO}x" if checked else "info", ratio <= TARGET_RATIO if checked else None,
                        ours, raw))
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "content.yaml").write_text(bomb(), encoding="utf-8")
        refused = []
        for _ in range(rounds):
            started = time.process_time()
            try:
                load_pack(Path(folder))
            except ContentError:
                refused.append((time.process_time() - started) * 1000)
            else:
                raise SystemExit("the alias bomb was not refused")
    rows.append(Row(f"alias bomb ({len(bomb().encode())} bytes) refused, CPU", common.median(refused), None, "ms",
                    None, "info", None, refused))
    return common.finish("content manifest: counting loader vs yaml.SafeLoader", args, rows)


if __name__ == "__main__":
    raise SystemExit(main())
