"""The engine: the durable-rules adapter that answers from the Rete network, and what every family's
evaluator builds on (the bounded memo, the context its answers share)."""
