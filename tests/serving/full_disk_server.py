"""``python full_disk_server.py FLAG serve ...``: ``nbprod serve`` whose prediction log writes fail with
ENOSPC while the file ``FLAG`` exists -- an OS-error injection at the write call, for machines where the
tests cannot mount a small tmpfs (not root). ``tests/serving/test_faults.py`` says which one ran."""

from __future__ import annotations

import errno
import os
import sys

from nbprod.serving import prediction_log
from nbprod.serving.__main__ import main


def install(flag: str) -> None:
    """Make :meth:`PredictionLogWriter._write_table` raise ENOSPC while ``flag`` exists."""
    real = prediction_log.PredictionLogWriter._write_table

    def write(self, table) -> None:
        if os.path.exists(flag):
            raise OSError(errno.ENOSPC, "No space left on device (injected)")
        real(self, table)

    prediction_log.PredictionLogWriter._write_table = write


if __name__ == "__main__":
    install(sys.argv.pop(1))
    sys.exit(main(sys.argv[1:]))
