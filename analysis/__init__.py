"""Statistics and reports for SIPAS surveys (imports nothing from survey/)."""
