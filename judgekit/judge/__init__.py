"""What a judge is: a protocol (spec, templates, strategy) plus the Judge API.

Public here (``__all__``): ``strategies``, what a strategy author subclasses and calls.
"""

__all__ = ["strategies"]
