"""The public site: server-rendered pages citizens read (no JavaScript needed)."""
