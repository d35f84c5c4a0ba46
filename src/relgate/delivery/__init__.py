"""Delivery measures (DORA) from relgate's own history, and the incidents they count.

``model`` and ``measures`` are pure; ``service`` reads the store and ``incidents``
keeps the incidents linked to deployments.
"""
