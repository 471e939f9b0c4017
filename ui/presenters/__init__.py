"""Feature presenters of the main window (Vorta-style): each owns one concern's state and slots."""
