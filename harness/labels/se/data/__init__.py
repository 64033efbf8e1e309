"""Committed default SE label set (Parquet files; a package so that wheels ship them)."""
