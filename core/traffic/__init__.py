"""API-traffic forensics: the provider's request logs as evidence.

Logs are imported into an embedded DuckDB file beside the case file (``import_logs``), the
analysis is written once in Ibis and runs on DuckDB or Spark (``analysis``), campaigns are
groups of linked accounts with the indicators that fired, and a campaign's exchanges can be
exported as the harvested set the harvest test consumes.
"""
