"""The retention family: the retention rules, ``RetentionFacts`` in, ``RetentionVerdict`` out, and its explanation."""
