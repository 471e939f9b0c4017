"""The Qt shell of RID Desktop. All protection logic lives in :mod:`rid_desktop`; this package only shows it."""
