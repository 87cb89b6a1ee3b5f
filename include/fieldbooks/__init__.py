"""fieldbooks: keep a field-service operations database and QuickBooks Online in step."""

__version__ = "0.1.0"
