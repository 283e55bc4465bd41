"""Numbers in, tables, Markdown, JSON, HTML and plots out; nothing here computes a figure."""
