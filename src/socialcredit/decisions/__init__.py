"""Decisions for relying parties: what they evaluate, and the log that keeps them."""

from socialcredit.decisions.evaluate import Decision, evaluate

__all__ = ["Decision", "evaluate"]
