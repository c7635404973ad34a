"""Staging: checked tables written as the header-less CSV the Flink file sources read.

The writing itself is the inverse of the checked parse and lives beside it in
:mod:`edge.tables`, which the end of day's own intraday journal also writes with.
"""

from __future__ import annotations

from edge.tables import text_columns, write_staged

__all__ = ["text_columns", "write_staged"]
