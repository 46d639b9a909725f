# The dispatch paths by name (src/dispatch.h), included by every extension
# module so that all of them use one vocabulary, one probe and one environment
# variable. Defines PATHS, PATH_VARIABLE, built_paths, available_paths,
# best_path, selected_path, and path_code (the one check before a path reaches
# a kernel: a path this CPU cannot run is refused with ValueError, never run).

import os

cdef extern from "dispatch.h" nogil:
    int fastbp_path_built(int path)
    int fastbp_path_supported(int path)
    int fastbp_path_available(int path)
    int fastbp_best_path()

PATHS = ("baseline", "avx2", "avx512")  # dispatch.h's FASTBP_PATH_* codes 0, 1, 2
PATH_VARIABLE = "FASTBP_KERNELS"


def built_paths():
    """The paths this build compiled, narrowest first."""
    return [name for code, name in enumerate(PATHS) if fastbp_path_built(code)]


def available_paths():
    """The paths this build compiled and this CPU (and OS) runs, narrowest first."""
    return [name for code, name in enumerate(PATHS) if fastbp_path_available(code)]


def best_path():
    """The widest available path: the one taken unless FASTBP_KERNELS names another."""
    return PATHS[fastbp_best_path()]


def selected_path():
    """The path the kernels take: FASTBP_KERNELS's, checked, if it is set, else best_path()."""
    requested = os.environ.get(PATH_VARIABLE, "")
    if not requested:
        return best_path()
    return PATHS[path_code(requested, PATH_VARIABLE)]


cdef int path_code(object path, str what="path") except -1:
    # path (a name of PATHS, or None for selected_path()) -> its code, once it is known to run here
    if path is None:
        return fastbp_best_path() if not os.environ.get(PATH_VARIABLE, "") else path_code(
            os.environ[PATH_VARIABLE], PATH_VARIABLE)
    if not isinstance(path, str) or path not in PATHS:
        raise ValueError("%s must be one of %s, got %r" % (what, ", ".join(PATHS), path))
    cdef int code = PATHS.index(path)
    if not fastbp_path_built(code):
        raise ValueError("%s=%r: this build of fastbp has only the paths %s (the %s copies are compiled by GCC "
                         "or Clang on x86)" % (what, path, ", ".join(built_paths()), path))
    if not fastbp_path_supported(code):
        raise ValueError("%s=%r: this CPU cannot run the %s path (it would stop on an illegal instruction); "
                         "it runs %s" % (what, path, path, ", ".join(available_paths())))
    return code
