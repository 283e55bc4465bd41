"""Built-in protocol specs, one YAML file per protocol (shipped as judgekit.protocols)."""
