"""Meta-dataset cards and the bundled offline dataset (shipped as judgekit.meta_datasets)."""
