"""The rule set: the vocabulary, the condition language and the fact schemas, and the loading of a
rules directory into one typed, checked ``RuleSet``."""
