"""Alembic migrations for the Madoguchi schema."""
