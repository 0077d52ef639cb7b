"""Which BLAS a benchmark process really uses: Debian's NumPy and PyTorch call
the system BLAS, the reference implementation unless OpenBLAS is installed,
so the libraries mapped into the process are the ground truth."""


def loaded_blas():
    """The paths of the BLAS libraries mapped into this process."""
    with open("/proc/self/maps") as maps:
        names = {line.split()[-1] for line in maps if "blas" in line.lower()}
    return sorted(names)
