"""The retention sweep over a real database: the job and its report, the mapping file, the SQL."""
