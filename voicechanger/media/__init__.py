"""Media files: decoding and encoding through ffmpeg, video, the mix, the final write."""
