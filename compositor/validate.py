"""`compositor validate`: every problem in every file of the production, one line each, before anything renders.

The edit, every cut folder under ``shots/`` (listed in the edit or not: each is a make target), every style
and encode preset in ``templates/``, and each cut's drawings (every drawing its timesheet names has a file).
"""

from __future__ import annotations

from compositor.core.cels import check_layers
from compositor.errors import CompositorError
from compositor.spec import Edit, Production, check_cut_name, load_edit, load_preset, load_shot, load_style


def _lines(error: CompositorError) -> list[str]:
    return str(error).splitlines()


def validate_production(production: Production) -> list[str]:
    """Every problem in the production, one line each (empty when all is well)."""
    problems: list[str] = []
    edit: Edit | None = None
    try:
        edit = load_edit(production)
    except CompositorError as e:
        problems.extend(_lines(e))
    for name in production.style_names():
        try:
            load_style(production, name, "templates/styles", name)
        except CompositorError as e:
            problems.extend(_lines(e))
    for name in production.preset_names():
        try:
            load_preset(production, name)
        except CompositorError as e:
            problems.extend(_lines(e))
    if edit is None:
        return list(dict.fromkeys(problems))
    for cut in production.cut_folders():
        try:
            # A folder make and the command line cannot name: renamed, it renders; the other cuts render anyway.
            check_cut_name(cut, "shots/")
            check_layers(load_shot(production, cut, edit))
        except CompositorError as e:
            problems.extend(_lines(e))
    return list(dict.fromkeys(problems))
