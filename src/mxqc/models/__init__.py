"""Model files shipped with mxqc (``default.safetensors``: see README, "The default model")."""
