"""What a newcomer meets building a production of their own from the README: a cut listed in the edit before
its folder exists, a new cut from the template in a production of another frame size."""

from __future__ import annotations

from tests.conftest import write_grid
from tests.test_validate import CUT, PLATE, compositor


def test_validate_checks_every_cut_while_the_edit_lists_one_not_made_yet(production_factory, capsys) -> None:
    root = production_factory({CUT: PLATE})  # the cut's plate is missing: its own problem
    write_grid(root / "shots" / CUT / "cels/A/A_0001.png", "RR\nRR")
    write_grid(root / "shots" / CUT / "cels/A/A_0002.png", "GG\nGG")
    edit = root / "shots" / "edit.toml"
    edit.write_text(edit.read_text().replace(f'cuts = ["{CUT}"]', f'cuts = ["{CUT}", "sc010_c020"]'))
    code, lines = compositor(root, capsys, "validate")
    assert code == 1
    assert "shots/edit.toml: edit.cuts[1]: no cut 'sc010_c020' (looked for shots/sc010_c020/shot.toml)" in lines
    # every problem in every file at once: the cut that exists is checked too
    assert any(line.startswith(f"shots/{CUT}/shot.toml: background.plate") for line in lines), lines


def test_a_new_cut_frames_its_canvas_in_a_production_of_any_size(production_factory, capsys) -> None:
    import re

    import numpy as np

    import compositor as api

    root = production_factory({CUT: "[shot]\nframes = 1\n"}, size=(48, 32))  # not the template's 1280x720
    assert compositor(root, capsys, "new", "sc020_c010")[0] == 0
    spec = root / "shots" / "sc020_c010" / "shot.toml"
    frame = api.render_frame(api.cut(api.load(root), "sc020_c010"), 1)
    text = re.sub(r"^keys = .*\n", "", spec.read_text(), flags=re.M)  # whatever the template keys
    spec.write_text(text.replace("[camera]", "[camera]\nkeys = [ { frame = 1, x = 24, y = 16 } ]", 1))
    centred = api.render_frame(api.cut(api.load(root), "sc020_c010"), 1)
    assert np.array_equal(frame, centred)  # the canvas seen whole, not a corner of it smeared past its edge


def test_a_cut_at_another_rate_or_size_than_the_edit_is_refused_before_it_renders(production_factory, capsys) -> None:
    root = production_factory({CUT: "[shot]\nframes = 2\nfps = 25\nsize = [32, 16]\n"}, size=(48, 32))
    code, lines = compositor(root, capsys, "validate")
    assert code == 1
    assert lines == [
        f"shots/{CUT}/shot.toml: shot.fps: 25 fps, but the screening cut (shots/edit.toml) is 24 fps and joins its "
        "cuts as they are (leave fps out to take the edit's)",
        f"shots/{CUT}/shot.toml: shot.size: 32x16, but the screening cut (shots/edit.toml) is 48x32 and joins its "
        "cuts as they are (leave size out to take the edit's)",
    ]
    assert compositor(root, capsys, "cut") == (1, lines)
    assert not (root / "render" / CUT / "comp").exists()  # nothing rendered for a screening cut that cannot be
    assert compositor(root, capsys, "render", CUT)[0] == 0  # the cut alone renders at its own rate and size


def test_the_readme_xdts_example_reads_as_it_says() -> None:
    """A newcomer writes a sheet by hand from the README's example: it must read, with the timings it claims."""
    from compositor.core.timesheet import parse_timing
    from compositor.core.xdts import parse_xdts
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    start = readme.index("```\nexchangeDigitalTimeSheet Save Data") + 4
    sheet = parse_xdts(readme[start : readme.index("```", start)].encode(), "README.md")
    assert sheet.duration == 12 and sheet.track_names() == ["A", "B"]
    assert list(sheet.exposure("A")) == list(parse_timing("1@4 2@4 x@4", 12))
    assert list(sheet.exposure("B")) == list(parse_timing("1@6 x@2 3@4", 12))


def test_two_files_of_one_drawing_number_are_named_as_the_production_names_them(production_factory, capsys) -> None:
    # Kenney's walk cycle: p1_walk01.png … and p1_front.png, whose last number (the "1" of "p1") is 1 too
    root = production_factory({CUT: '[shot]\nframes = 1\n[[layers]]\nname = "A"\ncels = "cels/A"\ntiming = "1"\n'})
    write_grid(root / "shots" / CUT / "cels/A/p1_walk01.png", "RR")
    write_grid(root / "shots" / CUT / "cels/A/p1_front.png", "GG")
    assert compositor(root, capsys, "validate") == (1, [
        f"shots/{CUT}/shot.toml: layers[0].cels: A/p1_walk01.png: drawing 1 is also p1_front.png (a drawing's "
        "number is the last number in its name); one file per drawing number"
    ])


def test_ctrl_c_while_the_command_is_still_importing_is_one_line(tmp_path) -> None:
    """Ctrl-C a second into `compositor cut` lands in the start-up imports: OpenCV is left half-imported, and
    tidying up after the interruption must not import the I/O module through it (a traceback, not a line)."""
    import subprocess
    import sys

    from tests.conftest import REPO

    script = (
        "import signal, sys, types\n"
        "from compositor import cli\n"
        "assert 'compositor.core.io' not in sys.modules  # the command imports it lazily\n"
        "sys.modules['cv2'] = types.ModuleType('cv2')  # as an import interrupted half-way leaves it\n"
        "def interrupted(): raise cli.Terminated(signal.SIGINT)\n"
        "cli.app = interrupted\n"
        "sys.argv = ['compositor', 'cut']\n"
        "cli.main()\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 130, run.stderr
    assert run.stderr.splitlines() == [
        "interrupted: every frame and movie segment already finished is kept (nothing half-written is); "
        "`compositor cut` resumes from there"
    ]


def test_a_drawing_in_a_format_not_read_is_named_not_called_missing(production_factory, capsys) -> None:
    # paint programs (RETAS, OpenToonz) export Targa: "no file" beside A_0001.tga sends one looking elsewhere
    root = production_factory({CUT: '[shot]\nframes = 2\n[[layers]]\nname = "A"\ncels = "cels/A"\ntiming = "1 2"\n'})
    (root / "shots" / CUT / "cels/A").mkdir(parents=True)
    (root / "shots" / CUT / "cels/A/A_0001.tga").write_bytes(b"\0" * 18)
    (root / "shots" / CUT / "cels/A/.A_0002.tga").write_bytes(b"\0" * 18)  # hidden: not a drawing anyway
    assert compositor(root, capsys, "validate") == (1, [
        f"shots/{CUT}/shot.toml: layers[0].timing: layer 'A', frame 1: drawing 1 has no file in shots/{CUT}/cels/A "
        "(A_0001.tga is there, but compositor reads only bmp, exr, jpeg, jpg, png, tif, tiff, webp: convert it)",
        f"shots/{CUT}/shot.toml: layers[0].timing: layer 'A', frame 2: drawing 2 has no file in shots/{CUT}/cels/A",
    ])


def test_a_plate_in_a_format_not_read_is_not_called_corrupt(production_factory, capsys) -> None:
    root = production_factory({CUT: '[shot]\nframes = 1\n[background]\nsource = "plate"\nplate = "plates/bg.tga"\n'})
    (root / "shots" / CUT / "plates").mkdir(parents=True)
    (root / "shots" / CUT / "plates/bg.tga").write_bytes(b"\0\0\2" + b"\0" * 15)  # a Targa header OpenCV cannot read
    line = (f"shots/{CUT}/shot.toml: background.plate: cannot decode shots/{CUT}/plates/bg.tga (a .tga file: "
            "compositor reads bmp, exr, jpeg, jpg, png, tif, tiff, webp; convert it)")
    assert compositor(root, capsys, "validate") == (1, [line])
    assert compositor(root, capsys, "render", CUT) == (1, [line])


def test_a_drawing_listed_past_the_sheets_end_is_noted_not_dropped_silently() -> None:
    from compositor.core.xdts import parse_xdts
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    start = readme.index("```\nexchangeDigitalTimeSheet Save Data") + 4
    text = readme[start : readme.index("```", start)]
    assert parse_xdts(text.encode(), "s.xdts").notes == ()
    # the animator's last change lies past the 12 frames the sheet says it has
    late = text.replace('{"frame": 8, "data": [{"id": 0, "values": ["3"]}]}', '{"frame": 14, "data": [{"id": 0, "values": ["3"]}]}')
    sheet = parse_xdts(late.encode(), "s.xdts")
    assert sheet.notes == ("s.xdts: track 'B', frame 14: drawing 3 is past the sheet's 12 frames: not shown",)
    assert list(sheet.exposure("B")) == [1] * 6 + [None] * 6
