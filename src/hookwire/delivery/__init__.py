"""The delivery engine: the sender (aiohttp) and the worker (claim → sign → send → settle)."""
