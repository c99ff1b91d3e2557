"""Editorial exports of the screening cut: an OpenTimelineIO timeline and a CMX 3600 EDL made from it.

- ``<edit>.otio``: one video track; the slate is a Gap, each cut a Clip whose media is the cut's movie (a
  path relative to ``render/``), with ``metadata["compositor"] = {cut, frames, start}``.
- ``<edit>.edl``: CMX 3600 from the same timeline (OTIO's ``cmx_3600`` adapter); record timecodes start at
  00:00:00:00 at the first slate frame, source timecodes at 00:00:00:00 at each cut movie's first frame. Reel
  names are the full cut names (``sc010_c010``), not truncated to 8 characters, so no two cuts share a reel.
  The title is written on one line (its line breaks become spaces): an EDL is read line by line.
"""

from __future__ import annotations

import opentimelineio as otio

from compositor.errors import BackendMissingError
from compositor.spec import Edit
from compositor.steps.edit.plan import CutEntry
from compositor.steps.edit.slate import slate_frames
from compositor.steps.encode import frame_rate


def build_timeline(edit: Edit, entries: list[CutEntry]) -> otio.schema.Timeline:
    """One video track: the slate as a Gap, then a Clip per cut with its movie (relative to render/)."""
    fps = float(frame_rate(edit.edit.fps))
    title = edit.edit.title or edit.edit.name
    timeline = otio.schema.Timeline(name=title)
    timeline.global_start_time = otio.opentime.RationalTime(0, fps)
    timeline.metadata["compositor"] = {
        "edit": edit.edit.name,
        "title": edit.edit.title,
        "fps": edit.edit.fps,
        "slate_frames": slate_frames(edit),
        "movie": edit.paths.movie.name,
    }
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    if slate_frames(edit):
        track.append(
            otio.schema.Gap(
                name="slate",
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(slate_frames(edit), fps)
                ),
            )
        )
    for entry in entries:
        whole = otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(entry.frames, fps)
        )
        media = otio.schema.ExternalReference(
            target_url=entry.movie.relative_to(edit.production.render).as_posix(), available_range=whole
        )
        clip = otio.schema.Clip(name=entry.name, media_reference=media, source_range=whole)
        clip.metadata["compositor"] = {"cut": entry.name, "frames": entry.frames, "start": entry.shot.start}
        clip.metadata["cmx_3600"] = {"reel": entry.name}
        track.append(clip)
    timeline.tracks.append(track)
    return timeline


def edl_text(timeline: otio.schema.Timeline) -> str:
    """CMX 3600 through OTIO's adapter, with full cut names as reels (see the module's docstring)."""
    if "cmx_3600" not in otio.adapters.available_adapter_names():
        raise BackendMissingError(
            "opentimelineio has no cmx_3600 adapter: `pip install otio-cmx3600-adapter` "
            "(a compositor dependency)"
        )
    edl = timeline.deepcopy()
    # The title is the EDL's TITLE line: a newline in it would start lines of its own (an FCM, an event).
    edl.name = " ".join(edl.name.split())
    return otio.adapters.write_to_string(edl, adapter_name="cmx_3600", reelname_len=None)


