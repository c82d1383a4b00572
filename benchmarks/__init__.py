"""Benchmarks of voicechanger on real Russian speech (issue 4): `make bench` or `python -m benchmarks.run`.

    inputs.py   builds the inputs from Debian's asterisk-core-sounds-ru prompts (deterministic)
    measure.py  runs one measured case in a fresh subprocess: wall, CPU and peak RSS of its process tree
    case.py     what runs inside that subprocess (ASR alone, or one pipeline conversion)
    run.py      the cases, the table, benchmarks/results.json, the targets
    profile.py  py-spy profile of one normal-profile conversion, summarised per stage
"""
