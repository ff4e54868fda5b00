"""Training of drift models: objectives, EMA, resumable state and the loop (maths only, no files).

Like :mod:`sictl.core` and :mod:`sictl.models`, this package never imports :mod:`sictl.io`,
:mod:`sictl.pipeline` or :mod:`sictl.cli`; the pipeline feeds it batches and writes what it returns.
"""
