"""Instrument: the programme's questions, answer sets and rules, read from data files."""
