"""Importers: turn judge outputs recorded by other projects into judgekit run dirs."""
