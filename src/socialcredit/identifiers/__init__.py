"""Identifiers of subjects: Unified Social Credit Codes for organizations."""
