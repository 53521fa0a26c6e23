"""The business model: entities, value objects, rules and events. No framework lives here."""
