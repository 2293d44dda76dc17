"""socialcredit: an open, accountable social credit system.

Records from many providers, a published rulebook, standings explained record by
record, decisions that carry the rulebook's hash, and due process around all of it.
"""

__version__ = "0.1.0"
