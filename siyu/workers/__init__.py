"""Workers: long-running processes that advance journeys, deliver messages and run due jobs."""
