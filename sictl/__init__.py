"""sictl: stochastic interpolants for scientific fields, designed numerically.

The package is layered: ``sictl.core`` is pure maths (torch/numpy/scipy only), ``sictl.io`` owns
every file format (the only place that imports h5py or safetensors), ``sictl.pipeline`` turns a
configuration into results, and ``sictl.cli`` is a thin typer layer over the pipeline.
"""

__version__ = "0.1.0"
