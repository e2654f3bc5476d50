"""The engine: the durable-rules adapter that answers from the Rete network, and the reference
evaluator that checks it."""
