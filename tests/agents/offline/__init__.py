"""The offline provider, end to end: request → agents → DuckDB SQL executed on real data."""
