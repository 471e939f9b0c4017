"""Model registry (where weights come from) and safe loading (never unpickles code)."""
