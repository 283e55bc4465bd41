"""What a judge is: a protocol (spec, templates, strategy) plus the Judge API."""
