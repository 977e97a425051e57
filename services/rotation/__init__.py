"""rotation: rotating chairs of the big party committees, their terms, reports and joint meetings."""
