"""Use cases, and the ports (abstract collaborators) they need from the outside world."""
