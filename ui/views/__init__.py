"""Widgets of the main window: library grid, settings, preview, progress, dialogs."""
