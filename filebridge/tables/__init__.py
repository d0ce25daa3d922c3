"""Files → cells: CSV/XLSX readers, the cell parsers and the table model (pure, plus the XLSX guard)."""
