"""Analysis over the whole question space: the partition, the invariants, ``policykit verify``, ``policykit diff``."""
