"""The service: a request resolved once, checked against the limits, and run, stepped, linked or
previewed; the store. Knows nothing of HTTP."""
