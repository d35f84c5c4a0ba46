"""Versions from commits: Conventional Commits, SemVer, bump rules, changelog, git reading."""
