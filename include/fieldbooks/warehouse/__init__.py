"""The staging warehouse: connections, merges and fieldbooks' own state tables."""
