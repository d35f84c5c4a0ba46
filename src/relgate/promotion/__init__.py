"""Promotion: gates over evidence decide whether a release may enter an environment.

``reports`` reads the evidence files CI attaches (JUnit, coverage, vulnerability
scans, performance metrics, custom verdicts) into small immutable models;
``gates`` evaluates an environment's gates over them. Both are pure: bytes and
plain data in, values out.
"""
