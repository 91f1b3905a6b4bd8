"""Use cases shared by the API, the dashboard, the CLI and the Python client."""
