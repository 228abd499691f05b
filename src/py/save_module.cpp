// Modules: importable ones by reference (importlib.import_module(name));
// modules made at run time, and registered ones that a function imports in
// its body, by value: a new module object filled with the original's contents.
#include <vector>

#include "../core/bytecode_scan.hpp"
#include "by_value_policy.hpp"
#include "pickler.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

// Entries every module has, that a rebuilt module gets by itself or must not share.
const char* const kModuleInternals[] = {"__name__", "__doc__", "__loader__", "__spec__", "__builtins__",
                                        "__cached__", "__file__"};

bool is_internal(PyObject* key) {
    for (const char* name : kModuleInternals)
        if (PyUnicode_CompareWithASCIIString(key, name) == 0) return true;
    return false;
}

}  // namespace

void Pickler::save_module(PyObject* module) {
    Ref name = Ref::check(PyModule_GetNameObject(module));
    PyObject* loaded = nullptr;
    if (PyDict_GetItemRef(runtime().sys_modules, name.get(), &loaded) < 0) raise_error();
    Ref owned = Ref::steal(loaded);
    if (loaded != module || module_is_registered(name.get())) {
        save_module_by_value(module);
        return;
    }
    // importlib.import_module(name): imports submodules too, unlike __import__.
    save_global_as(runtime().import_module, "importlib", "import_module");
    save(name.get());
    writer_.opcode(op::TUPLE1);
    writer_.opcode(op::REDUCE);
    memoize(module);
}

// types.ModuleType(name, doc), memoized, then vars(module).update({...}).
void Pickler::save_module_by_value(PyObject* module) {
    Ref name = Ref::check(PyModule_GetNameObject(module));
    PyObject* dict = PyModule_GetDict(module);  // borrowed
    PyObject* doc = PyDict_GetItemWithError(dict, name_of("__doc__"));
    if (doc == nullptr && PyErr_Occurred()) raise_error();
    save_global_as(reinterpret_cast<PyObject*>(&PyModule_Type), "types", "ModuleType");
    save(name.get());
    save(doc ? doc : Py_None);
    writer_.opcode(op::TUPLE2);
    writer_.opcode(op::REDUCE);
    memoize(module);
    session_.namespaces().emplace(dict, module);

    save_global_as(stdlib_attr("builtins", "dict.update"), "builtins", "dict.update");
    save_dict(dict);  // vars(module)
    writer_.opcode(op::EMPTY_DICT);
    writer_.opcode(op::MARK);
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    std::vector<std::pair<Ref, Ref>> items;
    while (PyDict_Next(dict, &pos, &key, &value))
        if (!PyUnicode_Check(key) || !is_internal(key)) items.emplace_back(Ref::borrow(key), Ref::borrow(value));
    for (const auto& [k, v] : items) {
        save(k.get());
        try {
            save(v.get());
        } catch (PythonError&) {
            note_current_error("when serializing attribute %R of module %R", k.get(), name.get());
            throw;
        }
    }
    writer_.opcode(op::SETITEMS);
    writer_.opcode(op::TUPLE2);
    writer_.opcode(op::REDUCE);
    writer_.opcode(op::POP);
}

// A function that imports a registered module in its body must find it on
// a loading side where it is not installed: put it in sys.modules first,
//   dict.setdefault(sys.modules, name, <module by value>)
void Pickler::install_imported_modules(PyObject* code) {
    if (PySet_GET_SIZE(registered_by_value_modules()) == 0) return;
    Ref co_names = Ref::check(PyObject_GetAttr(code, name_of("co_names")));
    Ref co_code = Ref::check(PyCode_GetCode(reinterpret_cast<PyCodeObject*>(code)));
    GlobalOpcodes imports;
    imports.name_ops.push_back(NameOpcode{runtime().import_name_opcode, 0});
    imports.extended_arg = runtime().global_opcodes.extended_arg;
    auto indices = scan_global_names(reinterpret_cast<const std::uint8_t*>(PyBytes_AS_STRING(co_code.get())),
                                     static_cast<std::size_t>(PyBytes_GET_SIZE(co_code.get())), imports);
    for (std::uint32_t index : indices) {
        if (index >= static_cast<std::uint32_t>(PyTuple_GET_SIZE(co_names.get()))) continue;
        PyObject* module_name = PyTuple_GET_ITEM(co_names.get(), index);
        if (!module_is_registered(module_name)) continue;
        PyObject* module = nullptr;
        if (PyDict_GetItemRef(runtime().sys_modules, module_name, &module) < 0) raise_error();
        if (module == nullptr) continue;
        Ref owned = Ref::steal(module);
        if (session_.memo_find(module) != IdentityMemo::kMissing) continue;  // already in this stream
        save_global_as(stdlib_attr("builtins", "dict.setdefault"), "builtins", "dict.setdefault");
        save_global_as(runtime().sys_modules, "sys", "modules");
        save(module_name);
        save_module_by_value(module);
        writer_.opcode(op::TUPLE3);
        writer_.opcode(op::REDUCE);
        writer_.opcode(op::POP);
    }
    // Nested code objects (inner functions, comprehensions) may import too.
    Ref consts = Ref::check(PyObject_GetAttr(code, name_of("co_consts")));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts.get()); ++i)
        if (PyCode_Check(PyTuple_GET_ITEM(consts.get(), i))) install_imported_modules(PyTuple_GET_ITEM(consts.get(), i));
}

}  // namespace webpickle::py
