"""Crisis alerts (CAP 1.2): compose, sign, publish and import alerts for the city's people.

For now the module holds its standards layer (``standards/``: the CAP 1.2 codec, XML
signatures, the Atom feed) and its pure rules (``area``: geometry of an alert's area,
``rules``: its validity in time). Other modules may use only what ``__all__`` lists.
"""

__all__: list[str] = []
