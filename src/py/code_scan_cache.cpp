// Code objects are immutable, so the scan of their bytecode for global names
// is kept with each one (the interpreter's per-code "extra" slots, freed with
// the code object): pickling a function again, as a worker pool does for
// every task, costs a lookup instead of a copy and a scan of its bytecode.
#include "code_scan_cache.hpp"

#include "../core/bytecode_scan.hpp"
#include "pyref.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

using Indices = std::vector<std::uint32_t>;

void free_indices(void* indices) { delete static_cast<Indices*>(indices); }

Indices scan(PyObject* code) {
    Ref bytecode = Ref::check(PyCode_GetCode(reinterpret_cast<PyCodeObject*>(code)));
    return scan_global_names(reinterpret_cast<const std::uint8_t*>(PyBytes_AS_STRING(bytecode.get())),
                             static_cast<std::size_t>(PyBytes_GET_SIZE(bytecode.get())), runtime().global_opcodes);
}

}  // namespace

const std::vector<std::uint32_t>& global_name_indices(PyObject* code) {
    // -1 when the interpreter has no slot left: then every call scans.
    static const Py_ssize_t slot = PyUnstable_Eval_RequestCodeExtraIndex(free_indices);
    thread_local Indices uncached;
    if (slot < 0) {
        uncached = scan(code);
        return uncached;
    }
    void* extra = nullptr;
    if (PyUnstable_Code_GetExtra(code, slot, &extra) < 0) raise_error();
    if (extra != nullptr) return *static_cast<Indices*>(extra);
    auto* indices = new Indices(scan(code));
    if (PyUnstable_Code_SetExtra(code, slot, indices) < 0) {
        delete indices;
        raise_error();
    }
    return *indices;
}

}  // namespace webpickle::py
