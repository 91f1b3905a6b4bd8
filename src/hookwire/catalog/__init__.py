"""The event catalog: built-in event types and tenants' own."""
