"""equitools: equivariant geometric deep learning on atoms.

Layers (an arrow only points down): ``so3`` → ``ict`` → ``tp`` → ``nn`` → ``models`` → ``train``.
``so3`` and ``ict`` import only numpy/scipy/sympy at import time.
"""

__version__ = "0.1.0"
