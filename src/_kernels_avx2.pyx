# The driver (driver.pxi), compiled for AVX2 and FMA: see setup.py.

include "driver.pxi"
