// Modules: importable ones by reference (importlib.import_module(name));
// modules made at run time, and registered ones that a function imports in
// its body, by value: a new module object filled with the original's
// contents. And the imports a function by value needs before it runs:
// submodules it reaches through a package's attributes, registered modules
// it imports in its body (relative imports included).
#include <vector>

#include "../core/bytecode_scan.hpp"
#include "by_value_policy.hpp"
#include "code_scan_cache.hpp"
#include "function_parts.hpp"
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

// "__builtins__": <the loading side's builtins>, when the module has that
// entry (exec() puts it there): the builtins module, or its namespace,
// as the original holds; never by value (it can hold anything: scipy puts
// unpicklable objects there).
void write_builtins_entry(Pickler& p, PyObject* module_dict) {
    PyObject* value = nullptr;
    if (PyDict_GetItemRef(module_dict, name_of("__builtins__"), &value) < 0) raise_error();
    Ref owned = Ref::steal(value);
    if (value == nullptr) return;
    Ref builtins = Ref::check(PyImport_ImportModule("builtins"));
    p.save(name_of("__builtins__"));
    if (value == builtins.get()) {
        p.save(builtins.get());
        return;
    }
    p.save_global_as(stdlib_attr("builtins", "vars"), "builtins", "vars");
    p.save(builtins.get());
    p.writer().opcode(op::TUPLE1);
    p.writer().opcode(op::REDUCE);
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
        with_note([&] { save(v.get()); }, "when serializing attribute %R of module %R", k.get(), name.get());
    }
    write_builtins_entry(*this, dict);
    writer_.opcode(op::SETITEMS);
    writer_.opcode(op::TUPLE2);
    writer_.opcode(op::REDUCE);
    writer_.opcode(op::POP);
}

namespace {

// The co_names entries (borrowed from the code object) that the
// instructions `opcode` of code's own bytecode name, in first-use order.
std::vector<PyObject*> names_used_by(PyObject* code, int opcode) {
    std::vector<PyObject*> names;
    if (opcode < 0) return names;
    PyObject* co_names = reinterpret_cast<PyCodeObject*>(code)->co_names;
    Ref co_code = Ref::check(PyCode_GetCode(reinterpret_cast<PyCodeObject*>(code)));
    GlobalOpcodes ops;
    ops.name_ops.push_back(NameOpcode{opcode, 0});
    ops.extended_arg = runtime().global_opcodes.extended_arg;
    for (std::uint32_t index : scan_global_names(reinterpret_cast<const std::uint8_t*>(PyBytes_AS_STRING(co_code.get())),
                                                 static_cast<std::size_t>(PyBytes_GET_SIZE(co_code.get())), ops))
        if (index < static_cast<std::uint32_t>(PyTuple_GET_SIZE(co_names)))
            names.push_back(PyTuple_GET_ITEM(co_names, index));
    return names;
}

bool imports_anything(PyObject* code) {
    if (!names_used_by(code, runtime().import_name_opcode).empty()) return true;
    PyObject* consts = reinterpret_cast<PyCodeObject*>(code)->co_consts;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); ++i)
        if (PyCode_Check(PyTuple_GET_ITEM(consts, i)) && imports_anything(PyTuple_GET_ITEM(consts, i))) return true;
    return false;
}

// globals["__package__"] when it is a non-empty str (a module of a package), else null.
Ref package_of(PyObject* globals) {
    PyObject* package = nullptr;
    if (PyDict_GetItemRef(globals, name_of("__package__"), &package) < 0) raise_error();
    Ref owned = Ref::steal(package);
    if (package == nullptr || !PyUnicode_Check(package) || PyUnicode_GET_LENGTH(package) == 0) return Ref();
    return owned;
}

// Every co_names entry of code and of the code objects nested in it.
void collect_all_names(PyObject* code, std::vector<PyObject*>& names) {
    PyObject* co_names = reinterpret_cast<PyCodeObject*>(code)->co_names;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(co_names); ++i) names.push_back(PyTuple_GET_ITEM(co_names, i));
    PyObject* consts = reinterpret_cast<PyCodeObject*>(code)->co_consts;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); ++i)
        if (PyCode_Check(PyTuple_GET_ITEM(consts, i))) collect_all_names(PyTuple_GET_ITEM(consts, i), names);
}

// True when module would be written by reference (importable under its name).
bool importable(PyObject* module, PyObject* name) {
    PyObject* loaded = nullptr;
    if (PyDict_GetItemRef(runtime().sys_modules, name, &loaded) < 0) raise_error();
    Ref owned = Ref::steal(loaded);
    return loaded == module && !module_is_registered(name);
}

// The modules among the globals that code (and the code nested in it)
// reads. Runs for every function by value: no allocation unless it finds one.
void collect_module_globals(PyObject* code, PyObject* globals, std::vector<Ref>& modules) {
    PyObject* co_names = reinterpret_cast<PyCodeObject*>(code)->co_names;
    for (std::uint32_t index : global_name_indices(code)) {
        if (index >= static_cast<std::uint32_t>(PyTuple_GET_SIZE(co_names))) continue;
        PyObject* value = nullptr;
        if (PyDict_GetItemRef(globals, PyTuple_GET_ITEM(co_names, index), &value) < 0) raise_error();
        Ref owned = Ref::steal(value);
        if (value == nullptr || !PyModule_Check(value)) continue;
        bool seen = false;
        for (const Ref& module : modules) seen = seen || module.get() == value;
        if (!seen) modules.push_back(std::move(owned));
    }
    PyObject* consts = reinterpret_cast<PyCodeObject*>(code)->co_consts;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); ++i)
        if (PyCode_Check(PyTuple_GET_ITEM(consts, i))) collect_module_globals(PyTuple_GET_ITEM(consts, i), globals, modules);
}

}  // namespace

bool needs_package_name(PyObject* code, PyObject* globals) {
    return package_of(globals) && imports_anything(code);
}

void Pickler::install_imported_modules(const FunctionParts& parts) {
    import_submodules_used(parts);
    if (PySet_GET_SIZE(registered_by_value_modules()) != 0) {
        Ref package = package_of(parts.globals.get());
        install_registered_imports(parts.code.get(), package.get());
    }
}

// Submodules reached through a package's attributes (xml.etree.ElementTree
// used as `xml.etree.ElementTree.Comment` with only `xml` a global or
// closure variable): importing the package on the loading side does not
// import them, so the stream imports them before the function. A submodule
// counts when the code names each step of its path (in co_names).
void Pickler::import_submodules_used(const FunctionParts& parts) {
    std::vector<Ref> modules;
    collect_module_globals(parts.code.get(), parts.globals.get(), modules);
    for (Py_ssize_t i = 0; parts.closure && i < PyTuple_GET_SIZE(parts.closure.get()); ++i) {
        PyObject* value = PyCell_GET(PyTuple_GET_ITEM(parts.closure.get(), i));
        if (value != nullptr && PyModule_Check(value)) modules.push_back(Ref::borrow(value));
    }
    if (modules.empty()) return;
    std::vector<PyObject*> names;
    collect_all_names(parts.code.get(), names);
    for (const Ref& module : modules) write_submodule_imports(module.get(), names);
}

// importlib.import_module(<submodule>) for each submodule of module that
// the names reach, deepest first (importing it imports the packages above
// it); returns whether it wrote one.
bool Pickler::write_submodule_imports(PyObject* module, const std::vector<PyObject*>& names) {
    Ref module_name = Ref::check(PyModule_GetNameObject(module));
    PyObject* dict = PyModule_GetDict(module);
    bool wrote = false;
    for (PyObject* name : names) {
        PyObject* value = nullptr;
        if (PyDict_GetItemRef(dict, name, &value) < 0) raise_error();
        Ref submodule = Ref::steal(value);
        if (value == nullptr || !PyModule_Check(value)) continue;
        Ref expected = Ref::check(PyUnicode_FromFormat("%U.%U", module_name.get(), name));
        Ref actual = Ref::check(PyModule_GetNameObject(value));
        if (!objects_equal(expected.get(), actual.get()) || !importable(value, actual.get())) continue;
        wrote = true;
        if (write_submodule_imports(value, names) || session_.memo_find(value) != IdentityMemo::kMissing) continue;
        save(value);
        writer_.opcode(op::POP);
    }
    return wrote;
}

// A function that imports a registered module in its body must find it on
// a loading side where it is not installed: put it in sys.modules first,
//   dict.setdefault(sys.modules, name, <module by value>)
// In a package, a relative import (`from .helpers import x`, `from . import
// helpers`) names a module below the package or a package above it.
void Pickler::install_registered_imports(PyObject* code, PyObject* package) {
    std::vector<Ref> candidates;
    std::vector<PyObject*> imported = names_used_by(code, runtime().import_name_opcode);
    for (PyObject* name : imported) candidates.push_back(Ref::borrow(name));
    if (package != nullptr) {
        std::vector<PyObject*> from_names = names_used_by(code, runtime().import_from_opcode);
        for (Ref base = Ref::borrow(package); base;) {
            for (PyObject* name : imported) {
                Ref target = PyUnicode_GET_LENGTH(name) == 0
                                 ? base
                                 : Ref::check(PyUnicode_FromFormat("%U.%U", base.get(), name));
                candidates.push_back(target);
                for (PyObject* from : from_names)
                    candidates.push_back(Ref::check(PyUnicode_FromFormat("%U.%U", target.get(), from)));
            }
            Py_ssize_t dot = PyUnicode_FindChar(base.get(), '.', 0, PyUnicode_GET_LENGTH(base.get()), -1);
            if (dot == -2) raise_error();
            base = dot < 0 ? Ref() : Ref::check(PyUnicode_Substring(base.get(), 0, dot));
        }
    }
    for (const Ref& candidate : candidates) {
        PyObject* module_name = candidate.get();
        if (!module_is_registered(module_name)) continue;
        PyObject* module = nullptr;
        if (PyDict_GetItemRef(runtime().sys_modules, module_name, &module) < 0) raise_error();
        if (module == nullptr) continue;
        Ref owned = Ref::steal(module);
        if (!PyModule_Check(module) || session_.memo_find(module) != IdentityMemo::kMissing) continue;
        save_global_as(stdlib_attr("builtins", "dict.setdefault"), "builtins", "dict.setdefault");
        save_global_as(runtime().sys_modules, "sys", "modules");
        save(module_name);
        save_module_by_value(module);
        writer_.opcode(op::TUPLE3);
        writer_.opcode(op::REDUCE);
        writer_.opcode(op::POP);
    }
    // Nested code objects (inner functions, comprehensions) may import too.
    PyObject* consts = reinterpret_cast<PyCodeObject*>(code)->co_consts;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); ++i)
        if (PyCode_Check(PyTuple_GET_ITEM(consts, i))) install_registered_imports(PyTuple_GET_ITEM(consts, i), package);
}

}  // namespace webpickle::py
