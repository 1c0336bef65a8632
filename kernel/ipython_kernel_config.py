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
