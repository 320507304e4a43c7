"""In-app help: how to use the workbench, and the report's glossary."""
