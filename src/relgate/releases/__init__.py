"""The release registry: versions bound immutably to digest-pinned artifacts."""
