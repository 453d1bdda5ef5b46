"""Process settings the workflow gives every job (applied in ``workflow/rules/common.smk``;
the library itself never changes the environment).

* ``POT_BACKEND_DISABLE_*``: POT loads every array backend it finds (torch among them) when
  imported, 1.1 s in a metrics job that has not loaded torch; the metrics give it NumPy
  arrays only.
* ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``: glibc maps each block above its
  mmap threshold (which grows to at most 32 MiB) freshly from the kernel and trims freed
  heap tops back to it, so a job faults in the pages of its per-step tensors and of its
  2000 x 2000 metric matrices again and again (about 80 page faults per RealNVP training
  step).  With these, freed blocks stay on the heap (``python -m benchmarks jobs``
  measures the gain).  Two variables rather than one ``GLIBC_TUNABLES`` string: glibc 2.36
  hands only that string's first entry on to a job's child processes.  Other C libraries
  ignore them.
"""

from __future__ import annotations

HEAP_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": str(256 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}
POT_SETTINGS = {f"POT_BACKEND_DISABLE_{backend}": "1" for backend in ("PYTORCH", "JAX", "CUPY", "TENSORFLOW")}
JOB_ENVIRONMENT = POT_SETTINGS | HEAP_SETTINGS
