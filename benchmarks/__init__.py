"""The side-by-side benchmark: policykit against Cedar (cedarpy), Casbin (pycasbin) and a dict lookup.

Run it with ``python benchmarks/run.py [--quick]``; see ``benchmarks/README.md``.
"""
