"""optadvisor: optimizer advice from measured gradients.

The installed package holds the repository's top-level folders as subpackages:
``optadvisor.optimizers`` (the optimizers and their catalogue), ``optadvisor.profiler`` (gradient
measurement and replay), ``optadvisor.rules`` (the recommendation engine), ``optadvisor.service`` (the
HTTP API and the ``optadvisor`` command) and ``optadvisor.client`` (the HTTP client and the PyTorch
capture helper).
"""
