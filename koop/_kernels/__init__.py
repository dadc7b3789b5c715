"""numba kernels: dictionary evaluation on chunks (``features``), the chunked Gram
accumulation that drives them with BLAS (``stream``), the fused Gram of polynomial
dictionaries from moment sums (``poly_gram``), and a vectorisable exponential (``vexp``).

Nothing here compiles at import: kernels compile on first call and are cached on disk
(``cache=True``), so later processes load them.
"""
