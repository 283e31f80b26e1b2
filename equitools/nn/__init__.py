"""Building blocks and interaction layers (torch)."""
