"""Dialogs and wizards: the new-case wizard and the message boxes."""
