"""Helpers shared by the tests, imported normally (``from tests.helpers import lattice``).

- ``lattice``: hand-made street lattices and areas where the 15-minute reach is known;
- ``fake_results``: coverage and thin results for the map tests, built without the engine.
"""
