"""The reference operations database: its schema, demo data and write-back."""
