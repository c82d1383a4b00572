"""`voice studio`: review, correct and re-dub one recording in a local web page.

    session.py  the recording's runs: the first conversion, re-dubs (each a --script run), undo
    state.py    the script, the voices and the undo history, kept beside the output
    rows.py     the page's rows, read from the run's artifacts
    media.py    phrase audio (WAV slices) and the small waveform/pitch views (numpy)
    words.py    the run's summary in the CLI's words
    server.py   the HTTP routes (Starlette)
    serve.py    uvicorn in a thread; Ctrl-C through interrupt.py
    static/     the page: one HTML file, one CSS file, one plain JS file

Why this stack: Starlette and uvicorn are already installed here (Prefect depends on them), small,
and offline by nature; the page is plain HTML/CSS/JS shipped as package data, with the waveform and
pitch drawn on <canvas> from JSON the server computes with numpy and Praat, so there is no build
step, no CDN and nothing to download. Gradio or Streamlit (libraries made for audio apps) would bring
hundreds of megabytes, their own front-end bundles and a model of the page we would fight (row-wise
editing, keyboard shortcuts, one lock around a run); a wavesurfer.js-style widget needs a bundle."""
