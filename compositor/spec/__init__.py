"""The specs: shot, edit, style, encode preset and QC models (``models``, ``qc``), and their loading and
resolving against a production (``loading``). Validated once, then passed down the pipeline."""

from compositor.spec.loading import (
    RENDER_THREADS,
    Edit,
    Production,
    Shot,
    check_cut_name,
    load_edit,
    load_preset,
    load_shot,
    load_style,
    read_toml,
)
from compositor.spec.models import (
    BLENDS,
    DEFAULT_FLOW,
    EASES,
    FLOW_METHODS,
    BackgroundSection,
    CameraKey,
    CameraSection,
    DiffusionSettings,
    EditSection,
    EditSpec,
    Effect,
    EncodePreset,
    Layer,
    Limits,
    MotionKey,
    ProceduralStyle,
    PromptFragments,
    ShotSection,
    ShotSpec,
    StyleSpec,
    TemporalSection,
    TemporalSettings,
    parse_model,
    problem_lines,
)
from compositor.spec.qc import QCRecord, TemporalQC

__all__ = [
    "BLENDS", "DEFAULT_FLOW", "EASES", "FLOW_METHODS", "BackgroundSection", "CameraKey", "CameraSection",
    "RENDER_THREADS", "DiffusionSettings", "Edit", "EditSection", "EditSpec", "Effect", "EncodePreset", "Layer",
    "Limits", "MotionKey",
    "ProceduralStyle", "Production", "PromptFragments", "QCRecord", "Shot", "ShotSection", "ShotSpec",
    "StyleSpec", "TemporalQC", "TemporalSection", "TemporalSettings", "check_cut_name", "load_edit",
    "load_preset", "load_shot", "load_style", "parse_model", "problem_lines", "read_toml",
]
