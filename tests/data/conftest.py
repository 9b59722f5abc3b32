"""Helpers for the data-pattern tests: tests are plain functions that run their coroutine with asyncio.run."""
