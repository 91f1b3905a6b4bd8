"""Signature schemes: one module per scheme with ``sign`` and ``verify`` side by side."""
