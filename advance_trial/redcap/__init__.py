"""REDCap in and out: data dictionaries, record exports and allocation tables (docs/redcap.md)."""
