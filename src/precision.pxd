# The two precisions of every kernel. Each fused function of narrow_products.pxd,
# layers.pxd and the driver (_driver.pyx) is compiled once for float and once for double;
# Cython picks the copy from the type of the pointers it is given. Arithmetic
# stays in the precision of the arrays (literals are cast to real, so that
# 1.0 - a * a on floats is a float operation, as NumPy computes it on float32
# arrays); only the loss and the few sums that NumPy itself carries in float64
# are widened, each where it happens and with its reason.

ctypedef fused real:
    float
    double
