"""The disclosure family: ``DisclosureRequest`` in, ``Decision`` out, and its explanation."""
