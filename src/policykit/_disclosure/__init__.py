"""The disclosure family: ``DisclosureRequest`` in, ``Decision`` out, its explanation, and the reference
evaluator that checks the engine's answers."""
