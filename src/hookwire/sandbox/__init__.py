"""The schema sandbox: tenants' JSON Schemas run in child processes (pool.Sandbox)."""

from hookwire.sandbox.pool import Sandbox

__all__ = ["Sandbox"]
