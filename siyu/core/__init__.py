"""Foundation shared by every domain: settings, database, event store, errors, ids, time."""
