"""QuickBooks Online: the client, extraction (CDC and queries) and writes."""
