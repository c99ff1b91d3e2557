"""XDTS timesheets: reading a hand-written sheet with every symbol, writing a cut's timings and reading them
back, the sheet timing a cut's layers (and entering its frame keys), and each error as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compositor.cli import app
from compositor.core.timesheet import parse_timing
from compositor.core.xdts import (
    IDENTIFIER,
    NULL_CELL,
    Cue,
    XdtsError,
    parse_xdts,
    scene_and_cut,
    timing_text,
    write_xdts,
)
from compositor.errors import SpecError
from compositor.spec import Production, load_shot
from tests.conftest import write_grid


def entry(frame: int, *values: str) -> dict:
    return {"frame": frame, "data": [{"id": 0, "values": list(values)}]}


def sheet(duration: int, cels: dict[str, list[dict]], dialogue: dict | None = None, camera: dict | None = None) -> bytes:
    """An XDTS file as CLIP STUDIO PAINT and OpenToonz write them (header, version, ids)."""
    headers = [{"fieldId": 0, "names": list(cels)}]
    fields = [{"fieldId": 0, "tracks": [{"trackNo": i, "frames": f} for i, f in enumerate(cels.values())]}]
    for field_id, tracks in ((3, dialogue), (5, camera)):
        if tracks:
            headers.append({"fieldId": field_id, "names": list(tracks)})
            fields.append({"fieldId": field_id, "tracks": [{"trackNo": i, "frames": f} for i, f in enumerate(tracks.values())]})
    document = {
        "header": {"cut": "1", "scene": "1"},
        "timeTables": [{"duration": duration, "name": "sheet", "timeTableHeaders": headers, "fields": fields}],
        "version": 5,
    }
    return (IDENTIFIER + "\n" + json.dumps(document, ensure_ascii=False)).encode()


# Written by hand: frames listed only where the track changes, every symbol at least once, a frame before 0
# (CLIP STUDIO PAINT writes one) and OpenToonz's closing empty cell at frame `duration`.
EVERY_SYMBOL = sheet(
    12,
    {
        "A": [
            entry(0, "1"),
            entry(2, "SYMBOL_HYPHEN"),
            entry(3, "2"),
            entry(5, "SYMBOL_TICK_1"),
            entry(6, "SYMBOL_NULL_CELL"),
            entry(8, "12"),
            entry(9, "SYMBOL_TICK_2"),
            entry(10, "3"),
            entry(12, "SYMBOL_NULL_CELL"),
        ],
        "BOOK": [entry(-1, "4"), entry(4, "SYMBOL_HYPHEN"), entry(7, "5a")],
        "C": [entry(0, "SYMBOL_TICK_1"), entry(3, "7"), entry(6, "SYMBOL_NULL_CELL")],
    },
    dialogue={"SERIF": [entry(2, "Hello"), entry(4, "SYMBOL_HYPHEN"), entry(6, "SYMBOL_NULL_CELL"), entry(9, "Bye")]},
    camera={"CAM": [entry(0, "PAN"), entry(8, "SYMBOL_NULL_CELL")]},
)


def test_a_hand_written_sheet_with_every_symbol() -> None:
    got = parse_xdts(EVERY_SYMBOL, "sheet.xdts")
    assert got.duration == 12 and got.track_names() == ["A", "BOOK", "C"]
    assert got.exposure("A") == [1, 1, 1, 2, 2, 2, None, None, 12, 12, 3, 3]
    # held from before frame 0; a hyphen keeps it; a letter is kept as written
    assert got.labels("BOOK") == ("4",) * 7 + ("5a",) * 5
    # a tick with no drawing before it is an empty frame
    assert got.exposure("C") == [None] * 3 + [7] * 3 + [None] * 6
    assert got.dialogue == (Cue("SERIF", 2, 4, "Hello"), Cue("SERIF", 9, 3, "Bye"))
    assert got.camerawork == (Cue("CAM", 0, 8, "PAN"),)


def test_a_drawing_with_a_letter_is_refused_when_it_times_a_layer() -> None:
    with pytest.raises(XdtsError, match=r"^sheet.xdts: track 'BOOK', frame 7: drawing '5a' has a letter") as e:
        parse_xdts(EVERY_SYMBOL, "sheet.xdts").exposure("BOOK")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "timing",
    ["1 . 2 . x x 3-5@2", "(1 2 3 2)*3", "x x x x x x x x x x x x", "7@12", "1-12"],
)
def test_export_then_import_gives_the_same_timings(timing: str) -> None:
    exposure = parse_timing(timing, 12)
    other = parse_timing("x 2@11", 12)
    cues = [Cue("SERIF", 1, 3, "line one"), Cue("SERIF", 8, 4, "line two"), Cue("CAM", 0, 12, "T.U.")]
    data = write_xdts([("A", exposure), ("B", other)], "sc010_c010", dialogue=cues[:2], camerawork=cues[2:], scene_and_cut=(10, 10))
    back = parse_xdts(data, "out.xdts")
    assert back.exposure("A") == exposure and back.exposure("B") == other
    assert back.dialogue == tuple(cues[:2]) and back.camerawork == (cues[2],)
    assert parse_timing(timing_text(exposure), 12) == exposure


def test_the_written_file_is_what_opentoonz_reads() -> None:
    """OpenToonz's reader (xdtsio.cpp) checks the first line, then needs a cel header and field, a name for
    every track number, and takes ``data[0].values[0]`` of each listed frame."""
    data = write_xdts([("A", [1, 1, 2, None]), ("B", [None, 3, 3, 3])], "sc010_c020", scene_and_cut=scene_and_cut("sc010_c020"))
    first, rest = data.decode().split("\n", 1)
    assert first == IDENTIFIER
    document = json.loads(rest)
    assert document["version"] == 5 and document["header"] == {"cut": "20", "scene": "10"}
    (table,) = document["timeTables"]
    assert table["duration"] == 4 and table["timeTableHeaders"] == [{"fieldId": 0, "names": ["A", "B"]}]
    (cels,) = table["fields"]
    tracks = {t["trackNo"]: [(f["frame"], f["data"][0]["values"][0]) for f in t["frames"]] for t in cels["tracks"]}
    # only the changes; a drawing that runs to the end is closed at `duration`, as OpenToonz's writer does
    assert tracks == {0: [(0, "1"), (2, "2"), (3, NULL_CELL)], 1: [(0, NULL_CELL), (1, "3"), (4, NULL_CELL)]}
    assert all(d["id"] == 0 for t in cels["tracks"] for f in t["frames"] for d in f["data"])


def test_a_sheet_ending_on_a_drawing_holds_it_to_the_end() -> None:
    got = parse_xdts(sheet(5, {"A": [entry(0, "1"), entry(3, "2")]}), "s.xdts")
    assert got.exposure("A") == [1, 1, 1, 2, 2]


BAD = [
    (b"not a sheet\n{}", "s.xdts: not an XDTS timesheet"),
    (IDENTIFIER.encode() + b"\n{\"timeTables\": [", "s.xdts: not valid XDTS JSON"),
    (IDENTIFIER.encode() + b"\n{\"version\": 5}", "s.xdts: timeTables: the sheet has no time table"),
    (sheet(0, {"A": [entry(0, "1")]}), "s.xdts: timeTables[0].duration"),
    (sheet(4, {"A": [entry(0, "1"), entry(2, "3.5")]}), "s.xdts: track 'A', frame 2: '3.5' is not a drawing"),
    (sheet(4, {"A": [entry(0, "one")]}), "s.xdts: track 'A', frame 0: 'one' is not a drawing"),
    (sheet(4, {"A": [entry(0, "1"), entry(0, "2")]}), "s.xdts: track 'A', frame 0: the frame is listed twice"),
    (sheet(4, {"A": [{"frame": "2", "data": []}]}), "s.xdts: track 'A': frames[0]: 'frame' must be a whole number"),
    (sheet(4, {"A": [{"frame": 1, "data": [{"id": 0, "values": [3]}]}]}), "s.xdts: track 'A', frame 1: a value must be text"),
    (
        sheet(4, {"A": [entry(0, "1")]}).replace(b'"names": ["A"]', b'"names": []'),
        "s.xdts: cel track 0: the track has no name",
    ),
]


@pytest.mark.parametrize(("data", "message"), BAD, ids=[m.split(": ", 1)[1][:30] for _, m in BAD])
def test_a_malformed_sheet_is_one_line_naming_file_track_and_frame(data: bytes, message: str) -> None:
    with pytest.raises(XdtsError) as e:
        parse_xdts(data, "s.xdts")
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


# ------------------------------------------------------------------------------------------------------------
# In a cut


def cut(root: Path, data: bytes, layers: str) -> Production:
    (root / "shots" / "sc010_c010").mkdir(parents=True, exist_ok=True)
    (root / "shots" / "sc010_c010" / "sheet.xdts").write_bytes(data)
    for n in (1, 2, 3, 7, 12):
        write_grid(root / "shots" / "sc010_c010" / "cels" / "A" / f"A_{n:04d}.png", "RR\nRR")
    return Production(root)


LAYER_A = '[[layers]]\nname = "A"\ncels = "cels/A"\n'


def shot_toml(frames: int = 12, layers: str = LAYER_A) -> str:
    return f'timesheet = "sheet.xdts"\n[shot]\nframes = {frames}\n{layers}'


def test_a_layer_without_timing_takes_the_track_of_its_name(production_factory) -> None:
    root = production_factory({"sc010_c010": shot_toml()})
    shot = load_shot(cut(root, EVERY_SYMBOL, LAYER_A), "sc010_c010")
    assert parse_timing(shot.spec.layers[0].timing, 12) == [1, 1, 1, 2, 2, 2, None, None, 12, 12, 3, 3]
    assert shot.timesheet is not None and shot.timesheet.dialogue[0].text == "Hello"
    assert shot.files["timesheet"] == root / "shots" / "sc010_c010" / "sheet.xdts"


def test_track_names_the_sheet_track(production_factory) -> None:
    layer = '[[layers]]\nname = "body"\ncels = "cels/A"\ntrack = "C"\n'
    root = production_factory({"sc010_c010": shot_toml(layers=layer)})
    shot = load_shot(cut(root, EVERY_SYMBOL, layer), "sc010_c010")
    assert parse_timing(shot.spec.layers[0].timing, 12) == [None] * 3 + [7] * 3 + [None] * 6


def test_the_sheet_enters_the_frame_keys(production_factory) -> None:
    from compositor.steps.composite import CutRenderer  # noqa: PLC0415

    root = production_factory({"sc010_c010": shot_toml(frames=4)})
    production = cut(root, sheet(4, {"A": [entry(0, "1"), entry(2, "2")]}), LAYER_A)
    write_grid(root / "shots" / "sc010_c010" / "cels" / "A" / "A_0002.png", "YY\nYY")
    before = CutRenderer(load_shot(production, "sc010_c010")).frame_keys()
    (root / "shots" / "sc010_c010" / "sheet.xdts").write_bytes(sheet(4, {"A": [entry(0, "1"), entry(3, "2")]}))
    after = CutRenderer(load_shot(production, "sc010_c010")).frame_keys()
    assert [a == b for a, b in zip(before, after)] == [True, True, False, True]  # only frame 2 changed drawing


@pytest.mark.parametrize(
    ("frames", "layers", "data", "message"),
    [
        (10, LAYER_A, EVERY_SYMBOL, "timesheet: shots/sc010_c010/sheet.xdts: timeTables[0].duration: the sheet is 12 frames, but the cut is 10"),
        (12, LAYER_A.replace('"A"\n', '"hair"\n', 1), EVERY_SYMBOL, "layers[0].name: shots/sc010_c010/sheet.xdts: track 'hair': no cel track"),
        (12, LAYER_A + 'track = "BOOK"\n', EVERY_SYMBOL, "layers[0].track: shots/sc010_c010/sheet.xdts: track 'BOOK', frame 7: drawing '5a'"),
        (12, LAYER_A, b"garbage", "timesheet: shots/sc010_c010/sheet.xdts: not an XDTS timesheet"),
        (12, LAYER_A + 'timing = "1@12"\ntrack = "A"\n', EVERY_SYMBOL, "layers[0]: give `timing` or `track`"),
    ],
    ids=["duration", "missing-track", "letter", "malformed", "timing-and-track"],
)
def test_a_sheet_that_does_not_fit_the_cut_is_one_line(production_factory, frames, layers, data, message) -> None:
    root = production_factory({"sc010_c010": shot_toml(frames=frames, layers=layers)})
    with pytest.raises(SpecError) as e:
        load_shot(cut(root, data, layers), "sc010_c010")
    assert str(e.value) == f"shots/sc010_c010/shot.toml: {message}" or str(e.value).startswith(f"shots/sc010_c010/shot.toml: {message}")
    assert "\n" not in str(e.value)


def test_a_layer_with_no_timing_and_no_sheet_is_refused(production_factory) -> None:
    root = production_factory({"sc010_c010": "[shot]\nframes = 2\n" + LAYER_A})
    write_grid(root / "shots" / "sc010_c010" / "cels" / "A" / "A_0001.png", "R")
    with pytest.raises(SpecError, match=r"layers\[0\]\.timing: missing"):
        load_shot(Production(root), "sc010_c010")


def test_a_sheet_outside_the_production_is_refused(production_factory, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.xdts").write_bytes(EVERY_SYMBOL)
    root = production_factory({"sc010_c010": shot_toml().replace('"sheet.xdts"', f'"{tmp_path / "elsewhere.xdts"}"')})
    with pytest.raises(SpecError, match="timesheet: .* points outside the production"):
        load_shot(cut(root, EVERY_SYMBOL, LAYER_A), "sc010_c010")


def test_the_xdts_command_writes_a_sheet_that_reads_back(production_factory, tmp_path: Path, capsys) -> None:
    two = LAYER_A + '[[layers]]\nname = "B"\ncels = "cels/A"\ntiming = "x x 3@4 (1 2)*"\n'
    root = production_factory({"sc010_c010": shot_toml(layers=two)})
    production = cut(root, EVERY_SYMBOL, two)
    out = tmp_path / "out.xdts"
    with pytest.raises(SystemExit) as done:
        app(["--root", str(root), "xdts", "sc010_c010", "--output", str(out)], standalone_mode=True)
    assert done.value.code == 0
    shot = load_shot(production, "sc010_c010")
    back = parse_xdts(out.read_bytes(), "out.xdts")
    for layer in shot.spec.layers:
        assert back.exposure(layer.name) == parse_timing(layer.timing, 12)
    assert back.dialogue == shot.timesheet.dialogue and back.camerawork == shot.timesheet.camerawork


def test_validate_reports_the_camerawork(production_factory) -> None:
    from compositor.validate import timesheet_notes  # noqa: PLC0415

    root = production_factory({"sc010_c010": shot_toml()})
    production = cut(root, EVERY_SYMBOL, LAYER_A)
    assert timesheet_notes(production) == [
        "shots/sc010_c010/sheet.xdts: camerawork 'CAM', frames 1-8: 'PAN' is not applied (key camera moves in [camera])"
    ]


def test_a_sheet_of_more_cells_than_a_cut_holds_is_one_line() -> None:
    """Each cel track is expanded to a label a frame: 2000 empty tracks of 100 000 frames (a 40 kB file) took
    1.5 GB and 9 s, 20 000 of them 15 GB, each under the limit on the duration."""
    tracks = {f"T{i}": [] for i in range(101)}  # over MAX_SHEET_CELLS, 10^7
    with pytest.raises(XdtsError, match=r"^x\.xdts: timeTables\[0\]: over 100 cel tracks of 100000 frames, more cells than a sheet may have \(10000000\)$"):
        parse_xdts(sheet(100_000, tracks), "x.xdts")
    assert len(parse_xdts(sheet(100_000, dict(list(tracks.items())[:-1])), "x.xdts").tracks) == 100
