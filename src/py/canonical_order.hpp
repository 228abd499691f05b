// A canonical order for the elements of a set or frozenset. Their iteration
// order depends on the hash seed, but is not part of their value: when every
// element is plain data (None, bool, int, float, complex, str, bytes, and
// tuples and frozensets of these) they are written sorted by an encoding of
// their value, so equal sets give equal bytes in any process. Sets holding
// other objects keep their iteration order.
#pragma once
#include <Python.h>

#include <vector>

#include "pyref.hpp"

namespace webpickle::py {

std::vector<Ref> canonical_items(PyObject* set);

}  // namespace webpickle::py
