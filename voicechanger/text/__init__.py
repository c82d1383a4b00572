"""Text a user reads or edits: phrases, the script, subtitles, the lexicon."""
