"""Operational state the network faces need: submissions (ingest batches with their
idempotency keys), background jobs with progress, and the public names of organizations.

Stores and reads in the caller's transaction, like the ledger; composed by the service.
"""
