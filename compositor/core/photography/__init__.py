"""Anime photography (撮影) beyond the finishing effects: camera work and focus over the keyed camera
(``camera_work``: tracks, shake, follow shots, motion blur, streaks, rack focus), light and tone on cels
(``tone``: shadow and highlight, transmitted light, para, lens light, per-layer colour, alpha-add) and the
glue that lays them in a cut's frames (``finish``)."""
