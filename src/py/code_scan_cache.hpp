// What a code object's bytecode and names say about the globals and modules
// it needs, worked out once per code object and kept with it (code objects
// are immutable): pickling a function again, as a worker pool does for
// every task, costs a lookup instead of scans of its bytecode and of the
// code objects nested in its constants.
#pragma once
#include <Python.h>

#include <cstdint>
#include <vector>

namespace webpickle::py {

struct CodeNames {
    // The global names (borrowed from co_names; the code object keeps them
    // alive) that the code and the code objects nested in its constants
    // read, in first-use order (the code's own first), without repeats.
    std::vector<PyObject*> global_names;
    // Every co_names entry of the code, then of each nested code object in
    // constant order (repeats kept): the steps of a submodule path.
    std::vector<PyObject*> all_names;
    // Whether the code or a nested code object imports (IMPORT_NAME).
    bool imports = false;
};

// The facts of `code` (a code object).
const CodeNames& code_names(PyObject* code);

// The co_names entries (borrowed from code) that the instructions `opcode`
// of code's own bytecode name, in first-use order; none for opcode -1.
std::vector<PyObject*> names_used_by(PyObject* code, int opcode);

}  // namespace webpickle::py
