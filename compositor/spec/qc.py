"""The QC record of a cut, ``render/<cut>/qc.json``: what the temporal pass measured on the background.

Written by the background step, read by the CLI's summary line and the review page; a typed record, so a
reader never guesses at keys.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TemporalQC(BaseModel):
    """Lai et al.'s warping error before and after the pass (None with a single frame), and the PSNR of the
    output against the input."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    e_warp_before: float | None = None
    e_warp_after: float | None = None
    psnr: float | None = None
    frames: int = 0
    method: str = "flow"
    strength: float = 0.0
    flow: str = ""
    detail: float = 0.0
    margin: int = 0

    def summary(self, what: str) -> str:
        def number(value: float | None, fmt: str) -> str:
            return "n/a" if value is None else format(value, fmt)

        return (
            f"{what}: E_warp {number(self.e_warp_before, '.5f')} → {number(self.e_warp_after, '.5f')}, "
            f"PSNR {number(self.psnr, '.2f')} dB"
        )


class QCRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    cut: str
    temporal: TemporalQC | None = None
