#include "internals.hpp"

namespace webpickle::py {

namespace detail {
alignas(Internals) unsigned char g_internals[sizeof(Internals)];
}

void init_internals() {
    static bool made = false;  // the module is imported once per process
    if (!made) {
        new (detail::g_internals) Internals();  // never destroyed (internals.hpp)
        made = true;
    }
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
