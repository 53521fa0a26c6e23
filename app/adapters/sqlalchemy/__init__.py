"""Persistence in a relational database (SQLite or PostgreSQL) through SQLAlchemy 2."""
