// Code objects, and the version guard that every
// stream carrying bytecode starts its by-value part with.
#include <string>

#include "pickler.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

// types.CodeType's positional parameters in Python 3.14, in order.
const char* const kCodeFields[] = {
    "co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_nlocals", "co_stacksize", "co_flags",
    "co_code",     "co_consts",          "co_names",          "co_varnames", "co_filename", "co_name",
    "co_qualname", "co_firstlineno",     "co_linetable",      "co_exceptiontable", "co_freevars", "co_cellvars",
};

// Raised on the loading side when its Python minor version differs: code
// objects are only valid for the version that compiled them.
const char kVersionMismatch[] =
    "this pickle holds Python " Py_STRINGIFY(PY_MAJOR_VERSION) "." Py_STRINGIFY(PY_MINOR_VERSION)
    " bytecode, which Python {0.major}.{0.minor} cannot run: load it with Python "
    Py_STRINGIFY(PY_MAJOR_VERSION) "." Py_STRINGIFY(PY_MINOR_VERSION);

}  // namespace

void Pickler::save_code(PyObject* code) {
    if (memo_get_if_present(code)) return;
    write_version_guard();
    save_global_as(reinterpret_cast<PyObject*>(&PyCode_Type), "types", "CodeType");
    writer_.opcode(op::MARK);
    for (const char* field : kCodeFields) {
        Ref value = Ref::check(PyObject_GetAttr(code, name_of(field)));
        save(value.get());
    }
    writer_.opcode(op::TUPLE);
    writer_.opcode(op::REDUCE);
    memoize(code);
}

// Writes, once per stream and before the first code object:
//   dict.get({V: id}, sys.hexversion >> 16, codecs.strict_errors)(
//       pickle.UnpicklingError(MESSAGE.format(sys.version_info)))
// On the same minor version V this calls id() on the error and drops the
// result; on another it calls codecs.strict_errors, which raises the error.
// It uses no code object, so a mismatched stream stops before building one.
void Pickler::write_version_guard() {
    if (guard_written_) return;
    guard_written_ = true;
    // The same bytes in every stream of a protocol: built once, no memo.
    static std::string cache[kHighestProtocol + 1];
    std::string& bytes = cache[protocol()];
    if (bytes.empty())
        bytes = fixed_bytes(protocol(), [](Pickler& p) { p.write_version_guard_expression(); });
    writer_.buffer().append(bytes.data(), bytes.size());
}

void Pickler::write_version_guard_expression() {
    auto global = [this](const char* module, const char* name) { write_global_by_name(module, name); };
    global("builtins", "dict.get");
    writer_.opcode(op::EMPTY_DICT);
    writer_.integer(static_cast<std::int64_t>(PY_VERSION_HEX >> 16));
    global("builtins", "id");
    writer_.opcode(op::SETITEM);
    global("operator", "rshift");
    global("sys", "hexversion");
    writer_.integer(16);
    writer_.opcode(op::TUPLE2);
    writer_.opcode(op::REDUCE);
    global("codecs", "strict_errors");
    writer_.opcode(op::TUPLE3);
    writer_.opcode(op::REDUCE);
    global("pickle", "UnpicklingError");
    global("builtins", "str.format");
    Ref message = Ref::check(PyUnicode_FromString(kVersionMismatch));
    save(message.get());
    global("sys", "version_info");
    writer_.opcode(op::TUPLE2);
    writer_.opcode(op::REDUCE);
    writer_.opcode(op::TUPLE1);
    writer_.opcode(op::REDUCE);
    writer_.opcode(op::TUPLE1);
    writer_.opcode(op::REDUCE);
    writer_.opcode(op::POP);
}

}  // namespace webpickle::py
