"""The process a run lives in: interrupts, BLAS threads, malloc settings."""
