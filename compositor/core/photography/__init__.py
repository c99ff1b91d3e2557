"""Anime photography (撮影) beyond the finishing effects: light and tone on cels (``tone``)."""
