"""Named voices: the catalogue (voices.yaml), who says which speaker (the cast), samples."""
