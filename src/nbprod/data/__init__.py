"""Reading, joining, validating and splitting the raw data."""
