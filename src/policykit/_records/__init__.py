"""Users' own records: category annotations, redaction, exports and anonymisation."""
