"""Publishing a day's version: atomic and verified, one publisher at a time, and the day's status."""
