"""Training and evaluation of our own compact generators (``python -m rid_desktop.training``)."""
