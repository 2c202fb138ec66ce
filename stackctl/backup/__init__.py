"""Backup and restore: one archive (tar, zstd, age) of every stack, its data and its dumps."""
