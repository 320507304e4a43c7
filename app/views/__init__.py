"""The main window's views: case list, case tabs and the jobs panel."""
