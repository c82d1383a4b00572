"""Signal processing on decoded audio: levels, fades, speech activity, cleanup, analysis."""
