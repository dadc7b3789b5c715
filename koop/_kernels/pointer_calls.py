r"""Call BLAS/LAPACK from numba kernels without the GIL, through scipy's Cython pointers.

scipy's Python wrappers of BLAS and LAPACK (``scipy.linalg.blas.dsyrk``,
``scipy.linalg.lapack.zpotrf``, ...) hold the GIL while they run, so Python threads
calling them take turns. ``scipy.linalg.cython_blas`` / ``cython_lapack`` export the same
routines as C function pointers (Fortran calling convention: every argument by
reference). The intrinsics here call such a pointer, passed in as an integer, with the
data pointers of the array arguments (scalars go in one-element arrays). The address is a
runtime argument, not a constant baked into the code, so the kernels that use them are
cached on disk like the others.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import config, njit, types
from numba.extending import get_cython_function_address, intrinsic

__all__ = ["blas_pointer", "lapack_pointer", "call5", "call8", "call10", "call13", "call23",
           "syrk_rows", "gemm_rows"]


def blas_pointer(name: str) -> int:
    """Address of ``scipy.linalg.cython_blas.<name>``."""
    return get_cython_function_address("scipy.linalg.cython_blas", name)


def lapack_pointer(name: str) -> int:
    """Address of ``scipy.linalg.cython_lapack.<name>``."""
    return get_cython_function_address("scipy.linalg.cython_lapack", name)


def _codegen_call(context, builder, signature, args):
    """Call ``args[0]`` (an address) with the data pointers of the array arguments."""
    voidp = ir.IntType(8).as_pointer()
    ptrs = []
    for ty, val in zip(signature.args[1:], args[1:], strict=True):
        ary = context.make_array(ty)(context, builder, val)
        ptrs.append(builder.bitcast(ary.data, voidp))
    fnty = ir.FunctionType(ir.VoidType(), [voidp] * len(ptrs))
    builder.call(builder.inttoptr(args[0], fnty.as_pointer()), ptrs)
    return context.get_dummy_value()


@intrinsic
def call5(typingctx, fptr, a0, a1, a2, a3, a4):  # pragma: no cover - compile time
    return types.void(fptr, a0, a1, a2, a3, a4), _codegen_call


@intrinsic
def call8(typingctx, fptr, a0, a1, a2, a3, a4, a5, a6, a7):  # pragma: no cover
    return types.void(fptr, a0, a1, a2, a3, a4, a5, a6, a7), _codegen_call


@intrinsic
def call23(typingctx, fptr, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13,
            a14, a15, a16, a17, a18, a19, a20, a21, a22):  # pragma: no cover
    return types.void(fptr, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13,
                      a14, a15, a16, a17, a18, a19, a20, a21, a22), _codegen_call


@intrinsic
def call10(typingctx, fptr, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9):  # pragma: no cover
    return types.void(fptr, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9), _codegen_call


@intrinsic
def call13(typingctx, fptr, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12
           ):  # pragma: no cover
    return (types.void(fptr, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12),
            _codegen_call)



@njit(cache=True, nogil=True)
def syrk_rows(acc, rows, dsyrk_ptr):  # pragma: no cover - numba
    """``acc += rows.T @ rows`` on the upper triangle (``acc`` Fortran-ordered M x M,
    ``rows`` C-contiguous n x M, i.e. the Fortran M x n matrix dsyrk wants)."""
    M = acc.shape[0]
    uplo = np.array([ord("U")], np.uint8)
    trans = np.array([ord("N")], np.uint8)
    m_arr = np.array([M], np.int32)
    k_arr = np.array([rows.shape[0]], np.int32)
    one = np.ones(1)
    call10(dsyrk_ptr, uplo, trans, m_arr, k_arr, one, rows, m_arr, one, acc, m_arr)


@njit(cache=True, nogil=True)
def gemm_rows(acc, left, right, dgemm_ptr):  # pragma: no cover - numba
    """``acc += left.T @ right`` (``acc`` Fortran-ordered, inputs C-contiguous rows)."""
    m, n = acc.shape
    ta = np.array([ord("N")], np.uint8)
    tb = np.array([ord("T")], np.uint8)
    m_arr = np.array([m], np.int32)
    n_arr = np.array([n], np.int32)
    k_arr = np.array([left.shape[0]], np.int32)
    one = np.ones(1)
    call13(dgemm_ptr, ta, tb, m_arr, n_arr, k_arr, one, left, m_arr, right, n_arr, one, acc,
           m_arr)


if config.DISABLE_JIT:  # pragma: no cover - exercised in a subprocess by the tests
    # intrinsics only exist in compiled code: in pure Python, scipy's wrappers do the work
    def syrk_rows(acc, rows, dsyrk_ptr):
        from scipy.linalg.blas import dsyrk

        dsyrk(1.0, rows.T, beta=1.0, c=acc, trans=0, lower=0, overwrite_c=1)

    def gemm_rows(acc, left, right, dgemm_ptr):
        from scipy.linalg.blas import dgemm

        dgemm(1.0, left.T, right.T, beta=1.0, c=acc, trans_b=1, overwrite_c=1)
