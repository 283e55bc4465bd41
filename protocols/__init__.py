"""Built-in protocol specs, one YAML file per protocol (shipped as ``judgekit.protocols``).

This folder is the ``judgekit.protocols`` package, so the spec loader
(``judgekit.protocol_spec``) is re-exported here: ``judgekit.protocols.load_protocol``.
"""

from judgekit.protocol_spec import Parser, Protocol, list_protocols, load_protocol, parse_spec

__all__ = ["Parser", "Protocol", "list_protocols", "load_protocol", "parse_spec"]
