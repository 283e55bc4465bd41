"""Model backends (one module per provider) and the shared call path that wraps them.

Public here (``__all__``): what a backend author implements and returns. A backend in another package is a
:class:`Backend` subclass declared through the ``judgekit.backends`` entry point group (name: the provider).
"""

from judgekit.backends.base import Backend, CallTag, Completion, Message, Refused, Request, SamplingParams

__all__ = ["Backend", "CallTag", "Completion", "Message", "Refused", "Request", "SamplingParams"]
