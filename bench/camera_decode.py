"""Barcode decoding: our BarcodeReader vs a raw zxingcpp.read_barcodes call, on zxing-cpp's real samples.

Images: every image in ``../shared/testdata/barcodes`` (zxing-cpp's own
sample photos and scans: EAN-13, EAN-8, QR codes, and a folder of
``falsepositives``). An image counts as decoded when its expected text (the
``.txt`` beside it) is among what was found; anything found in a
false-positive image is a false positive.

Ours: ``BarcodeReader(enhance=True).decode_file(path)``, what ``edge-agent
camera decode`` does: read the file, grey, zxing-cpp limited to the store's
formats (EAN-13/8, UPC-A/E, QR), and on images where nothing was found a
second pass for the linear codes on the image shrunk to at most 320 px and
contrast-equalised (CLAHE).

Raw: ``cv2.imread(path, IMREAD_GRAYSCALE)`` then ``zxingcpp.read_barcodes(image,
formats=<the same five>, text_mode=Plain)`` with every other argument at its
default: the same work as ours without its second pass, so like is compared
with like (zxing-cpp searching every format is shown for information; it is
2-3x slower and would flatter ours). Plain text mode so both are compared on
decoding, not on how text is rendered (the default HRI mode writes a GS1 code
as ``(01)…`` and control characters as ``<GS>``, which the expected texts do
not). For information, ours without the second pass.

Ours and raw take turns image by image (each image decoded by both, one
right after the other, who goes first alternating from image to image), so
both see the machine in the same state: taking turns round by round (0.3 s
each), the per-round ratio of one and the same code ranged 1.09-1.18x at
load 5-6. The time per image is the median over rounds of each round's mean,
as CPU time of the process
(``time.process_time``: every thread, OpenCV's pool included) because on a
shared machine the wall clock measures the others' load as much as ours (at
load 7-11 on 2 cores, per-round wall-clock ratios of the same code ranged
1.03-1.42x); the wall-clock figure is shown beside it. Targets: decoded >=
1.0x raw, mean CPU time <= 1.1x raw, 0 false positives.

OpenCV runs single-threaded, as in the camera's processes (``edge-agent camera
decode`` and the agent's pipeline call
:func:`edge_agent.camera.barcodes.one_opencv_thread`); the setting is
process-wide, so raw's ``imread`` runs the same way. ``--cv-threads N`` sets
another count for both sides (0 or more: ``cv2.setNumThreads``; -1: OpenCV's
default, one per core).

    .venv/bin/python bench/camera_decode.py [--quick] [--rounds N] [--cv-threads N]
"""

from __future__ import annotations

import sys
import time
from importlib.metadata import version
from pathlib import Path

import _common as common
import cv2
import zxingcpp
from _common import Row

from edge_agent.camera.barcodes import BarcodeReader, one_opencv_thread, quiet_opencv

BARCODES = common.ROOT.parent / "shared" / "testdata" / "barcodes"
SUFFIXES = {".png", ".webp", ".jpg", ".jpeg"}


def load_set() -> list[tuple[Path, str | None]]:
    """(image, expected text or None for a false-positive image), for every image OpenCV can read."""
    images = []
    for path in sorted(BARCODES.rglob("*")):
        if path.suffix.lower() not in SUFFIXES:
            continue
        expected = path.with_suffix(".txt")
        if path.parent.name == "falsepositives-1":
            images.append((path, None))
        elif expected.is_file():
            images.append((path, expected.read_bytes().decode("utf-8")))
    return images


def run(decode, images) -> tuple[int, int, float, float]:
    """(decoded, false positives, CPU seconds, wall-clock seconds) of one pass over ``images`` with
    ``decode(path) -> [texts]``. CPU time is the process's (every thread: OpenCV's pool included)."""
    decoded = false_positives = 0
    elapsed = cpu = 0.0
    for path, expected in images:
        start, start_cpu = time.perf_counter(), time.process_time()
        texts = decode(path)
        cpu += time.process_time() - start_cpu
        elapsed += time.perf_counter() - start
        if expected is None:
            false_positives += len(texts)
        elif expected in texts:
            decoded += 1
    return decoded, false_positives, cpu, elapsed


def run_paired(first, second, images, round_index: int) -> tuple[tuple[int, int, float, float], ...]:
    """:func:`run` of ``first`` and ``second`` taking turns image by image, who goes first alternating
    from image to image (and between rounds); one result per side."""
    results = []
    for index, image in enumerate(images):
        pair = (0, 1) if (index + round_index) % 2 == 0 else (1, 0)
        once = {side: run((first, second)[side], [image]) for side in pair}
        results.append((once[0], once[1]))
    return tuple(tuple(sum(values) for values in zip(*(pair[side] for pair in results), strict=True))
                 for side in (0, 1))


def main(argv: list[str] | None = None) -> int:
    parser = common.parser(__doc__.splitlines()[0], rounds=15)
    parser.add_argument("--cv-threads", type=int, default=None,
                        help="cv2.setNumThreads for both sides (default: 1, as the camera's processes run)")
    args = parser.parse_args(argv)
    if args.cv_threads is None:
        one_opencv_thread()
    else:
        cv2.setNumThreads(args.cv_threads)
    if not BARCODES.is_dir():
        print(f"no test data at {BARCODES}: clone the project with ../shared beside it", file=sys.stderr)
        return 1
    quiet_opencv()
    images = [(path, expected) for path, expected in load_set() if cv2.imread(str(path)) is not None]
    unreadable = len(load_set()) - len(images)
    if args.quick:
        images = images[::6]
    ours_reader = BarcodeReader(enhance=True)
    plain_reader = BarcodeReader(enhance=False)
    formats = [getattr(zxingcpp.BarcodeFormat, name) for name in ("EAN13", "EAN8", "UPCA", "UPCE", "QRCode")]

    def ours(path):
        return [code.text for code in ours_reader.decode_file(path)]

    def ours_single_pass(path):
        return [code.text for code in plain_reader.decode_file(path)]

    def raw(path):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        return [b.text for b in zxingcpp.read_barcodes(image, formats=formats, text_mode=zxingcpp.TextMode.Plain)]

    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    zx_formats = zxingcpp.BarcodeFormats(formats)

    def ours_previous(path):  # the second pass before issue 13: CLAHE on the whole image, five formats, rotated
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        found = zxingcpp.read_barcodes(image, formats=zx_formats, text_mode=zxingcpp.TextMode.Plain)
        if not found:
            found = zxingcpp.read_barcodes(clahe.apply(image), formats=zx_formats, text_mode=zxingcpp.TextMode.Plain)
        return [b.text for b in found]

    def raw_every_format(path):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        return [b.text for b in zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain)]

    results: dict[str, list[tuple[int, int, float, float]]] = {"ours": [], "raw": [], "raw-all": [], "ours-1pass": [],
                                                        "previous": []}
    run(ours, images[:10])  # warm caches and code paths once
    run(raw, images[:10])
    for index in range(common.rounds_of(args)):
        ours_round, raw_round = run_paired(ours, raw, images, index)
        results["ours"].append(ours_round)
        results["raw"].append(raw_round)
        results["raw-all"].append(run(raw_every_format, images))
        results["ours-1pass"].append(run(ours_single_pass, images))
        results["previous"].append(run(ours_previous, images))
    n = len(images)
    positives = sum(1 for _, expected in images if expected is not None)

    def ms(side):
        return [cpu / n * 1000 for _, _, cpu, _ in results[side]]

    def wall_ms(side):
        return [elapsed / n * 1000 for _, _, _, elapsed in results[side]]

    decoded_ours, decoded_raw = results["ours"][0][0], results["raw"][0][0]
    fp_ours, fp_raw = results["ours"][0][1], results["raw"][0][1]
    ratios = [o / r for o, r in zip(ms("ours"), ms("raw"), strict=True)]
    rows = [
        Row("images decoded", decoded_ours, decoded_raw, f"of {positives}",
            decoded_ours / decoded_raw if decoded_raw else None, ">= 1.0x", decoded_ours >= decoded_raw),
        Row("mean CPU time per image", common.median(ms("ours")), common.median(ms("raw")), "ms",
            common.median(ratios), "<= 1.1x", common.median(ratios) <= 1.1,
            ours_rounds=ms("ours"), raw_rounds=ms("raw")),
        Row("mean wall-clock time per image", common.median(wall_ms("ours")), common.median(wall_ms("raw")), "ms",
            common.median([o / r for o, r in zip(wall_ms("ours"), wall_ms("raw"), strict=True)]), "(info)", None,
            ours_rounds=wall_ms("ours"), raw_rounds=wall_ms("raw")),
        Row("false positives", fp_ours, fp_raw, "codes", None, "ours = 0", fp_ours == 0),
        Row("raw searching every format: decoded", None, results["raw-all"][0][0], "images", None, "(info)", None),
        Row("raw searching every format: time", None, common.median(ms("raw-all")), "ms", None, "(info)", None),
        Row("ours without 2nd pass: decoded", results["ours-1pass"][0][0], None, "images", None, "(info)", None),
        Row("ours without 2nd pass: time", common.median(ms("ours-1pass")), None, "ms", None, "(info)", None),
        Row("previous 2nd pass (whole image, 5 formats): decoded", results["previous"][0][0], None, "images", None,
            "(info)", None),
        Row("previous 2nd pass (whole image, 5 formats): CPU", common.median(ms("previous")), common.median(ms("raw")),
            "ms", common.median([o / r for o, r in zip(ms("previous"), ms("raw"), strict=True)]), "(info)", None),
    ]
    notes = [(f"{n} images ({positives} with an expected text, {n - positives} false-positive images); "
              f"{unreadable} files OpenCV cannot read were left out of both sides "
              "(falsepositives-1/1x1.webp, 1x100.webp)"),
             (f"zxing-cpp {version('zxing-cpp')}, OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads); "
              f"{common.rounds_of(args)} rounds")]
    return common.finish("camera decode: BarcodeReader vs raw zxingcpp.read_barcodes, same formats", args, rows,
                         notes)


if __name__ == "__main__":
    sys.exit(main())
