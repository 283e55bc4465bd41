"""Bridges from judgekit judges to other evaluation harnesses (each an optional extra)."""

__all__ = ["inspect_ai"]
