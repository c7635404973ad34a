"""The settlement portal (``portal.app``): staff reconciliation views and member downloads."""
