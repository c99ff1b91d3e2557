"""compositor: a Makefile-driven, video-aware compositing pipeline for hand-drawn animation."""

__version__ = "0.1.0"
