"""Models of the systems this job works beside, for `simulate` and for end-to-end tests."""
