"""Implementations of the service ports for real infrastructure."""
