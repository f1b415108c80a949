"""Results: the row key and seed statistics (``summary``), table layouts, renderers, plots, the
paper comparison, a board's text sections and the provenance facts; ``board.write_report``
writes a board. Import the modules themselves: this package imports nothing on its own."""
