"""Orders → files: the export use case, column mappings, order rows and the CSV/XLSX writers."""
