"""Distill Audit desktop application (PySide6): main window, views, dialogs, job runner.

Only Qt and calls into :mod:`core` live here; no analysis logic.
"""
