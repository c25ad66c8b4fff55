"""Codecs for the external standards the alerts module speaks: CAP 1.2 XML (``cap``), its
enveloped XML signature (``signature``) and the Atom 1.0 feed that lists alerts (``atom``).
Every XML document read from outside goes through ``xmlsafe``."""
