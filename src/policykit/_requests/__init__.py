"""The data-subject request family: the request rules, ``DataSubjectRequest`` in, ``RequestResponse`` out."""
