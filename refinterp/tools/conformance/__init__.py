"""The conformance suite: generated single-operator cases, written to disk with their oracle's outputs, and a
runner that checks any runtime against them (docs/conformance.md)."""
