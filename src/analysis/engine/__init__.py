"""Engine: scores, breakdowns, factors, comparisons and the one findings table."""
