# The driver (driver.pxi), compiled for baseline x86-64 (or any other architecture): see setup.py.

include "driver.pxi"
