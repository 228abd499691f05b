// The facts of each code object are kept in one of the interpreter's
// per-code "extra" slots, freed with the code object.
#include "code_scan_cache.hpp"

#include <algorithm>

#include "../core/bytecode_scan.hpp"
#include "internals.hpp"
#include "pyref.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

std::vector<std::uint32_t> scan(PyObject* code, const GlobalOpcodes& ops) {
    Ref bytecode = Ref::check(PyCode_GetCode(reinterpret_cast<PyCodeObject*>(code)));
    return scan_global_names(reinterpret_cast<const std::uint8_t*>(PyBytes_AS_STRING(bytecode.get())),
                             static_cast<std::size_t>(PyBytes_GET_SIZE(bytecode.get())), ops);
}

template <typename Visit>
void for_nested_code(PyObject* code, Visit&& visit) {
    PyObject* consts = reinterpret_cast<PyCodeObject*>(code)->co_consts;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); ++i)
        if (PyCode_Check(PyTuple_GET_ITEM(consts, i))) visit(PyTuple_GET_ITEM(consts, i));
}

void add_facts(PyObject* code, CodeNames& facts) {
    PyObject* co_names = reinterpret_cast<PyCodeObject*>(code)->co_names;
    const auto size = static_cast<std::uint32_t>(PyTuple_GET_SIZE(co_names));
    for (std::uint32_t index : scan(code, runtime().global_opcodes)) {
        if (index >= size) continue;
        PyObject* name = PyTuple_GET_ITEM(co_names, index);
        if (std::find(facts.global_names.begin(), facts.global_names.end(), name) == facts.global_names.end())
            facts.global_names.push_back(name);
    }
    for (std::uint32_t i = 0; i < size; ++i) facts.all_names.push_back(PyTuple_GET_ITEM(co_names, i));
    facts.imports = facts.imports || !names_used_by(code, runtime().import_name_opcode).empty();
    for_nested_code(code, [&](PyObject* nested) { add_facts(nested, facts); });
}

CodeNames facts_of(PyObject* code) {
    CodeNames facts;
    add_facts(code, facts);
    return facts;
}

void free_facts(void* facts) { delete static_cast<CodeNames*>(facts); }

}  // namespace

const CodeNames& code_names(PyObject* code) {
    Internals& state = internals();
    if (state.code_names_slot == Internals::kSlotUnrequested)
        state.code_names_slot = PyUnstable_Eval_RequestCodeExtraIndex(free_facts);
    if (state.code_names_slot < 0) {  // the interpreter has no slot left: every call works it out
        state.uncached_code_names = facts_of(code);
        return state.uncached_code_names;
    }
    void* extra = nullptr;
    if (PyUnstable_Code_GetExtra(code, state.code_names_slot, &extra) < 0) raise_error();
    if (extra != nullptr) return *static_cast<CodeNames*>(extra);
    auto* facts = new CodeNames(facts_of(code));
    if (PyUnstable_Code_SetExtra(code, state.code_names_slot, facts) < 0) {
        delete facts;
        raise_error();
    }
    return *facts;
}

std::vector<PyObject*> names_used_by(PyObject* code, int opcode) {
    std::vector<PyObject*> names;
    if (opcode < 0) return names;
    GlobalOpcodes ops;
    ops.name_ops.push_back(NameOpcode{opcode, 0});
    ops.extended_arg = runtime().global_opcodes.extended_arg;
    PyObject* co_names = reinterpret_cast<PyCodeObject*>(code)->co_names;
    for (std::uint32_t index : scan(code, ops))
        if (index < static_cast<std::uint32_t>(PyTuple_GET_SIZE(co_names)))
            names.push_back(PyTuple_GET_ITEM(co_names, index));
    return names;
}

}  // namespace webpickle::py
