"""The conformance kit: tests that every adapter must pass, and fixtures to run them."""
