"""ALVH 4/4/2: layered VIX call hedge of short SPX iron condors (the pure planner)."""
