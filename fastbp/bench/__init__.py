"""fastbp against its peers: the benchmark suite behind ``fastbp bench``.

shapes: the jobs, the sweep's grid and a user's ``--shape``; peers: every
contender's training loop; child: what one child process measures; suite: the
parent, which runs each contender in its own process; report and charts: the
Markdown table and the pictures; command: what ``fastbp bench`` runs (its options
are parsed in fastbp/cli.py). The peers (JAX, PyTorch) are optional: those not
installed are skipped.
"""
