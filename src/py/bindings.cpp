// The Python API of the extension module webpickle._core. Only declarations
// live here; the work is done by Session and Pickler.
#include <pybind11/pybind11.h>

#include <memory>

#include "../core/version.hpp"
#include "by_value_policy.hpp"
#include "pickler.hpp"
#include "internals.hpp"
#include "runtime.hpp"

namespace pyb = pybind11;
using namespace webpickle;
using namespace webpickle::py;

namespace {

int resolve_protocol(const pyb::object& protocol) {
    if (protocol.is_none()) return kHighestProtocol;
    long value = protocol.cast<long>();
    if (value < 0) return kHighestProtocol;  // as pickle: a negative protocol means the highest
    if (value > kHighestProtocol) throw pyb::value_error("pickle protocol must be <= 5");
    if (value < kLowestProtocol)
        throw pyb::value_error("webpickle writes pickle protocols 2 to 5, not " + std::to_string(value) +
                               ": pass protocol=None (5, the default) or a value from 2 to 5");
    return static_cast<int>(value);
}

PyObject* or_null(const pyb::object& obj) { return obj.is_none() ? nullptr : obj.ptr(); }

pyb::bytes run_dump(Session& session, const pyb::handle& obj, const Overrides& overrides) {
    try {
        Pickler pickler(session, overrides);
        return pyb::reinterpret_steal<pyb::bytes>(pickler.dump(obj.ptr()).release());
    } catch (PythonError&) {
        throw pyb::error_already_set();
    }
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "webpickle's C++ pickler (see the webpickle package for the public API)";
    try {
        init_internals();
    } catch (PythonError&) {
        throw pyb::error_already_set();
    }
    m.attr("__version__") = WEBPICKLE_VERSION_STRING;
    m.attr("HIGHEST_PROTOCOL") = kHighestProtocol;
    m.attr("DEFAULT_PROTOCOL") = kHighestProtocol;
    m.def(
        "registered_modules",
        []() {
            try {
                return pyb::reinterpret_borrow<pyb::set>(registered_by_value_modules());
            } catch (PythonError&) {
                throw pyb::error_already_set();
            }
        },
        "The set of module names registered for pickling by value (shared with the C++ engine).");
    m.def("resolve_protocol", &resolve_protocol, pyb::arg("protocol"),
          "The protocol a Pickler uses for `protocol` (None or negative: 5); ValueError outside 2-5.");

    pyb::class_<Session>(m, "Session", "Memo and settings kept across the dump() calls of one Pickler.")
        .def(pyb::init([](const pyb::object& protocol, const pyb::object& buffer_callback) {
                 return std::make_unique<Session>(resolve_protocol(protocol), or_null(buffer_callback));
             }),
             pyb::arg("protocol") = pyb::none(), pyb::arg("buffer_callback") = pyb::none())
        .def_property_readonly("protocol", &Session::protocol)
        .def(
            "dump",
            [](Session& self, const pyb::handle& obj, const pyb::object& reducer_override,
               const pyb::object& persistent_id, const pyb::object& dispatch_table) {
                Overrides overrides{or_null(reducer_override), or_null(persistent_id), or_null(dispatch_table)};
                return run_dump(self, obj, overrides);
            },
            pyb::arg("obj"), pyb::arg("reducer_override") = pyb::none(), pyb::arg("persistent_id") = pyb::none(),
            pyb::arg("dispatch_table") = pyb::none(),
            "Pickles obj into one whole stream and returns its bytes.")
        .def("clear_memo", &Session::clear_memo)
        .def(
            "memo_items",
            [](const Session& self) {
                pyb::list items;
                for (auto [index, obj] : self.memo_entries())
                    items.append(pyb::make_tuple(index, pyb::reinterpret_borrow<pyb::object>(obj)));
                return items;
            },
            "The (memo index, object) pairs memoized so far (Pickler.memo).")
        .def(
            "prime_memo",
            [](Session& self, std::uint32_t index, const pyb::handle& obj) { self.memo_prime(index, obj.ptr()); },
            pyb::arg("index"), pyb::arg("obj"), "Memoizes obj under index, as assigning Pickler.memo does.");

    m.def(
        "dumps",
        [](const pyb::handle& obj, const pyb::object& protocol, const pyb::object& buffer_callback) {
            Session session(resolve_protocol(protocol), or_null(buffer_callback));
            return run_dump(session, obj, Overrides{});
        },
        pyb::arg("obj"), pyb::arg("protocol") = pyb::none(), pyb::arg("buffer_callback") = pyb::none(),
        "Pickles obj (functions and classes by value where needed) and returns the bytes.");
}
