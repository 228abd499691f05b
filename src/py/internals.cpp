#include "internals.hpp"

namespace webpickle::py {

namespace detail {
Internals* g_internals = nullptr;
}

void init_internals() {
    if (detail::g_internals == nullptr) detail::g_internals = new Internals();  // never freed (internals.hpp)
    init_runtime();
}

bool DispatchTableWatch::start(PyObject* table) {
    if (!PyDict_CheckExact(table)) return false;
    int id = PyDict_AddWatcher([](PyDict_WatchEvent, PyObject*, PyObject*, PyObject*) {
        internals().dispatch_table.changed();
        return 0;
    });
    if (id < 0) {
        PyErr_Clear();
        return false;
    }
    if (PyDict_Watch(id, table) < 0) {
        PyErr_Clear();
        return false;
    }
    watching_ = true;
    return true;
}

}  // namespace webpickle::py
