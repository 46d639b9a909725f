# The driver (driver.pxi), compiled for AVX-512: see setup.py.

include "driver.pxi"
