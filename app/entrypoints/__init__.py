"""The ways in: the Flask app, its REST API and pages, and command-line commands."""
