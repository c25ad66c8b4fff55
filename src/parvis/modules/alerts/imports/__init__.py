"""CAP alerts imported from external authorities: uploaded by an agent or polled from feeds,
checked (``reading``), stored once per (sender, identifier) for an agent to relay or dismiss
(``actions``), listed (``queries``); ``feeds`` polls the configured Atom feeds."""
