r"""A vectorisable :math:`e^x` for numba loops.

``math.exp`` compiles to a call into libm, which stops LLVM from vectorising the loop
around it (numba only vectorises it with Intel's SVML, an optional binary we do not
depend on). For the Gaussian RBF dictionary the exponential is most of the work, so
this module computes it with arithmetic LLVM can put in SIMD registers:

.. math::
    e^a = 2^n e^r, \qquad n = \operatorname{round}(a / \ln 2),\quad
    r = a - n \ln 2 \in [-\tfrac{\ln 2}{2}, \tfrac{\ln 2}{2}],

with :math:`n \ln 2` subtracted in two parts (Cody & Waite) so that :math:`r` is
exact to the last bit, :math:`e^r` from its Taylor polynomial of degree 13 (truncation
error :math:`< 5 \cdot 10^{-18}` on that interval) and :math:`2^n` built from its IEEE
bits. :math:`2^n` is applied as two factors :math:`2^{\lfloor n/2 \rfloor}\,2^{\lceil
n/2 \rceil}` so that results in the subnormal range round once and correctly. Measured
against ``numpy.exp`` on :math:`[-745.5, 709]`: relative error at most one unit in the
last place (2.2e-16), identical zeros below :math:`-745.14`.

Nothing here uses ``fastmath``: reassociation would fold the rounding constant away.
"""

from __future__ import annotations

import math

from numba import config, njit, types
from numba.extending import intrinsic

__all__ = ["vexp"]

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2, low mantissa bits zero: n * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
# 1.5 * 2**52: adding it rounds to an integer kept in the low mantissa bits
_SHIFTER = 6755399441055744.0
_SHIFTER_BITS = 0x4338000000000000


@intrinsic
def _float_bits(typingctx, x):
    """The IEEE-754 bits of a float64 as an int64 (a register reinterpretation)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return sig, codegen


@intrinsic
def _bits_float(typingctx, x):
    """The float64 whose IEEE-754 bits are the int64 ``x``."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@njit(inline="always", cache=True)
def _exp_reduced(r):
    # Horner form of sum_{k<=13} r^k / k!
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    return p * r + 1.0


@njit(inline="always", cache=True)
def vexp(a):
    """:math:`e^a` for finite float64 ``a``, within one ulp of ``numpy.exp``."""
    # beyond these bounds the result is 0 or inf anyway; inside them n fits the shifter
    a = min(max(a, -746.0), 710.0)
    t = a * _LOG2E + _SHIFTER
    nf = t - _SHIFTER
    r = (a - nf * _LN2_HI) - nf * _LN2_LO
    n = _float_bits(t) - _SHIFTER_BITS
    half = n >> 1
    scale_lo = _bits_float((half + 1023) << 52)
    scale_hi = _bits_float((n - half + 1023) << 52)
    return _exp_reduced(r) * scale_lo * scale_hi


if config.DISABLE_JIT:  # pragma: no cover - exercised in a subprocess by the tests
    def vexp(a):  # intrinsics only exist in compiled code
        """:math:`e^a` (``math.exp``: the pure-Python stand-in under NUMBA_DISABLE_JIT)."""
        a = float(a)
        if a < -746.0:
            return 0.0
        return math.exp(a) if a < 710.0 else math.inf
