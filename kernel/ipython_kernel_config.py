# IPython kernel configuration for lossbook's notebooks; `make install` copies it into
# .venv/etc/ipython/, where every kernel of the venv (JupyterLab, `make execute`, nbval) reads it.
#
# A float shown as plain text (a cell's value, or a value stored by myst_nb's `glue`) is printed
# with 6 significant digits instead of its full 17-digit repr. The last digits of a floating-point
# result depend on the CPU's vector kernels (AVX2 and AVX-512 machines differ there), and nbval
# compares stored outputs character by character: 6 digits keep every number the book shows
# while making the stored outputs the same on any x86-64 machine. Prose formats glued values
# itself (e.g. {glue:text}`name:.3f`).
c = get_config()  # noqa: F821 (provided by IPython when it loads this file)
c.PlainTextFormatter.float_precision = "%.6g"

# Garbage collection: SymPy, PyTorch and matplotlib create hundreds of thousands of long-lived
# objects on import, and CPython's default threshold (a collection every 700 container
# allocations, a full one every 70 000) makes the collector traverse them again and again. A
# first-generation threshold of 50 000 cuts the CPU time of a chapter by about a quarter
# (sanity: 13.1 s to 9.7 s of cell time, measured with one thread); results are unchanged, as
# collection only frees unreachable cycles. `__import__` leaves no name in the user namespace.
c.InteractiveShellApp.exec_lines = ['__import__("gc").set_threshold(50_000, 20, 100)']
