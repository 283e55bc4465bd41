"""Built-in protocol specs, one YAML file per protocol (shipped as ``judgekit.protocols``).

This folder is the ``judgekit.protocols`` package, so the spec loader
(``judgekit.judge.spec``) and the loaded protocol (``judgekit.judge.protocol``) are re-exported here: ``judgekit.protocols.load_protocol``.
"""

from judgekit.judge.protocol import Member, Parser, Protocol
from judgekit.judge.spec import list_protocols, load_protocol, parse_spec

__all__ = ["Member", "Parser", "Protocol", "list_protocols", "load_protocol", "parse_spec"]
