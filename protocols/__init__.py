"""Built-in protocol specs, one YAML file per protocol (shipped as ``judgekit.protocols``).

This folder is the ``judgekit.protocols`` package, so the spec loader
(``judgekit.protocol_spec``) and the loaded protocol (``judgekit.protocol``) are re-exported here: ``judgekit.protocols.load_protocol``.
"""

from judgekit.protocol import Member, Parser, Protocol
from judgekit.protocol_spec import list_protocols, load_protocol, parse_spec

__all__ = ["Member", "Parser", "Protocol", "list_protocols", "load_protocol", "parse_spec"]
