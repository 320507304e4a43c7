"""The wizards: each flow of the CLI as guided steps that call the same core functions."""
