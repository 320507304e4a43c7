"""The main window's controllers: each turns a user action into a wizard or a job.

:mod:`.evidence` (add and verify evidence, terms, quick imports, dropped files),
:mod:`.analysis` (checks, experiments, the report, partial results) and :mod:`.case_file`
(open, recent, new case, demo case, settings, the audit chain). Each is a plain QObject
that talks to the window only through :class:`app.host.WindowHost`; none holds analysis
logic (core decides, the controllers translate).
"""
