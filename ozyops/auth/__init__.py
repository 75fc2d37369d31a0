"""Signing in and out: password, the code step, the recovery key."""
