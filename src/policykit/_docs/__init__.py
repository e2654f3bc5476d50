"""The generated auditor pages."""
