// Code objects, and the version guard that every
// stream carrying bytecode starts its by-value part with.
#include <string>

#include "internals.hpp"
#include "pickler.hpp"
#include "runtime.hpp"
#include "writers.hpp"

namespace webpickle::py {
namespace {

// The loading side's sys.implementation.cache_tag must be this one: code
// objects are only valid for the interpreter and minor version that made them.
#define WEBPICKLE_PY_VERSION Py_STRINGIFY(PY_MAJOR_VERSION) "." Py_STRINGIFY(PY_MINOR_VERSION)
const char kCacheTag[] = "cpython-" Py_STRINGIFY(PY_MAJOR_VERSION) Py_STRINGIFY(PY_MINOR_VERSION);
// The key whose lookup fails there otherwise, with the loader's cache tag
// after it: KeyError: ('this pickle needs Python 3.14, not', 'cpython-313').
const char kVersionMismatch[] =
    "this pickle needs Python " WEBPICKLE_PY_VERSION ", not";

// The version guard's fixed parts (see write_version_guard).
void write_version_guard_part(Pickler& p, int part) {
    switch (part) {
        case 0: {  // dict.__getitem__, {MESSAGE   (then: memoize the message)
            p.write_global_by_name("builtins", "dict.__getitem__");
            p.writer().opcode(op::EMPTY_DICT);
            Ref message = Ref::check(PyUnicode_FromString(kVersionMismatch));
            p.save(message.get());
            break;
        }
        case 1: {  // , TAG): None}   (then: the message again)
            Ref tag = Ref::check(PyUnicode_FromString(kCacheTag));
            p.save(tag.get());
            p.writer().opcode(op::TUPLE2);
            p.writer().opcode(op::NONE);
            p.writer().opcode(op::SETITEM);
            break;
        }
        default:  // , the loader's tag) -> look the key up, drop the result
            p.write_global_by_name("sys", "implementation.cache_tag");
            p.writer().opcode(op::TUPLE2);
            p.writer().opcode(op::TUPLE2);
            p.writer().opcode(op::REDUCE);
            p.writer().opcode(op::POP);
    }
}

// types.CodeType's 18 arguments, read from the code object's fields and
// the public accessors rather than by 18 attribute lookups (which were
// most of the time of pickling a small function, in wasm above all). In
// the order of CodeType's parameters in Python 3.14: argcount,
// posonlyargcount, kwonlyargcount, nlocals, stacksize, flags, code, consts,
// names, varnames, filename, name, qualname, firstlineno, linetable,
// exceptiontable, freevars, cellvars (test_functions_by_value.py compares
// every field of the loaded code with the original's).
void write_code_fields(Pickler& p, PyCodeObject* co) {
    p.writer().integer(co->co_argcount);
    p.writer().integer(co->co_posonlyargcount);
    p.writer().integer(co->co_kwonlyargcount);
    p.writer().integer(co->co_nlocals);
    p.writer().integer(co->co_stacksize);
    p.writer().integer(co->co_flags);
    Ref bytecode = Ref::check(PyCode_GetCode(co));
    p.save(bytecode.get());
    p.save(co->co_consts);
    p.save(co->co_names);
    Ref varnames = Ref::check(PyCode_GetVarnames(co));
    p.save(varnames.get());
    p.save(co->co_filename);
    p.save(co->co_name);
    p.save(co->co_qualname);
    p.writer().integer(co->co_firstlineno);
    p.save(co->co_linetable);
    p.save(co->co_exceptiontable);
    Ref freevars = Ref::check(PyCode_GetFreevars(co));
    p.save(freevars.get());
    Ref cellvars = Ref::check(PyCode_GetCellvars(co));
    p.save(cellvars.get());
}

}  // namespace

void save_code(Pickler& p, PyObject* code) {
    if (p.memo_get_if_present(code)) return;
    p.write_version_guard();
    p.save_global_as(reinterpret_cast<PyObject*>(&PyCode_Type), "types", "CodeType");
    p.writer().opcode(op::MARK);
    write_code_fields(p, reinterpret_cast<PyCodeObject*>(code));
    p.writer().opcode(op::TUPLE);
    p.writer().opcode(op::REDUCE);
    p.memoize(code);
}

// Writes, once per stream and before the first code object:
//   dict.__getitem__({(MESSAGE, TAG): None}, (MESSAGE, sys.implementation.cache_tag))
// On the interpreter that wrote the stream (same cache tag) the key is there;
// anywhere else the lookup raises KeyError((MESSAGE, loader's tag)), which
// names both versions. It uses no code object, so a mismatched stream stops
// before building one. Two global lookups (most of a small function's load
// time: bench/README.md, "Measured reasons") and a short message, memoized
// and read back for the second key.
void Pickler::write_version_guard() {
    if (guard_written_) return;
    guard_written_ = true;
    write_fixed_parts(internals().version_guard_parts, write_version_guard_part);
}

// The parts between memo operations are the same bytes in every stream of a
// protocol: built once (without the memo) and copied. The value of the
// stream's own that part 0 leaves is memoized under a fresh index and read
// back after part 1: memo indices depend on the stream.
void Pickler::write_fixed_parts(FixedParts& cache, void (*write_part)(Pickler&, int)) {
    std::string(&parts)[3] = cache[protocol()];
    if (parts[0].empty()) {
        for (int i = 0; i < 3; ++i)
            parts[i] = fixed_bytes(protocol(), [i, write_part](Pickler& p) { write_part(p, i); });
    }
    OutputBuffer& out = writer_.buffer();
    out.append(parts[0].data(), parts[0].size());
    std::uint32_t value = session_.memo_reserve();
    writer_.memo_put(value);
    out.append(parts[1].data(), parts[1].size());
    writer_.memo_get(value);
    out.append(parts[2].data(), parts[2].size());
}

}  // namespace webpickle::py
