"""Use cases of the core, one module per feature; each function is a short sequence of
units of work (database) and port calls (chat), so no message is sent from an open transaction."""
