"""The authenticated agent/analyst API (``/api/*``), one resolver made of per-concept routers."""
