// What a code object's own bytecode reads as globals (indices into its
// co_names), scanned once per code object and kept with it.
#pragma once
#include <Python.h>

#include <cstdint>
#include <vector>

namespace webpickle::py {

// The co_names indices of the globals `code` (a code object) reads, in
// first-use order; nested code objects are not included.
const std::vector<std::uint32_t>& global_name_indices(PyObject* code);

}  // namespace webpickle::py
