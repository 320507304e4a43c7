"""Reports: the PDF (ReportLab), its charts (matplotlib, shared with the GUI), JSON and CSV.

``gather_report_data`` reads a case once into plain records; ``render_pdf``,
``bundle_json`` and ``csv_tables`` render them; ``export_report`` writes the files
atomically and records the export in the audit log.
"""
