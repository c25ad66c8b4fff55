"""Accounts: people, roles, department memberships, sessions, tokens, export and erasure."""

from parvis.modules.accounts.queries import resolve_principal

__all__ = ["resolve_principal"]
