// Modules: importable ones by reference (importlib.import_module(name));
// modules made at run time, and registered ones that a function imports in
// its body, by value: a new module object filled with the original's
// contents. And the imports a function by value needs before it runs:
// submodules it reaches through a package's attributes, registered modules
// it imports in its body (relative imports included).
#include <vector>

#include "by_value_policy.hpp"
#include "code_scan_cache.hpp"
#include "function_parts.hpp"
#include "pickler.hpp"
#include "runtime.hpp"
#include "writers.hpp"

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

// globals["__package__"] when it is a non-empty str (a module of a package), else null.
Ref package_of(PyObject* globals) {
    PyObject* package = nullptr;
    if (PyDict_GetItemRef(globals, name_of("__package__"), &package) < 0) raise_error();
    Ref owned = Ref::steal(package);
    if (package == nullptr || !PyUnicode_Check(package) || PyUnicode_GET_LENGTH(package) == 0) return Ref();
    return owned;
}

// True when module would be written by reference (importable under its name).
bool importable(PyObject* module, PyObject* name) {
    PyObject* loaded = nullptr;
    if (PyDict_GetItemRef(runtime().sys_modules, name, &loaded) < 0) raise_error();
    Ref owned = Ref::steal(loaded);
    return loaded == module && !module_is_registered(name);
}

// A module, or a subclass of one (a function, the usual global, is neither
// and costs no walk of its type's bases).
bool is_module(PyObject* value) {
    if (PyModule_CheckExact(value)) return true;
    return !PyFunction_Check(value) && PyModule_Check(value);
}

// The modules among the globals that code (and the code nested in it)
// reads, in first-use order. Runs for every function by value: no
// allocation unless it finds one.
void collect_module_globals(PyObject* code, PyObject* globals, std::vector<Ref>& modules) {
    for (PyObject* name : code_names(code).global_names) {
        PyObject* value = nullptr;
        if (PyDict_GetItemRef(globals, name, &value) < 0) raise_error();
        Ref owned = Ref::steal(value);
        if (value == nullptr || !is_module(value)) continue;
        bool seen = false;
        for (const Ref& module : modules) seen = seen || module.get() == value;
        if (!seen) modules.push_back(std::move(owned));
    }
}

// types.ModuleType(name, doc), memoized, then vars(module).update({...}).
void save_module_by_value(Pickler& p, PyObject* module) {
    Ref name = Ref::check(PyModule_GetNameObject(module));
    PyObject* dict = PyModule_GetDict(module);  // borrowed
    PyObject* doc = PyDict_GetItemWithError(dict, name_of("__doc__"));
    if (doc == nullptr && PyErr_Occurred()) raise_error();
    p.save_global_as(reinterpret_cast<PyObject*>(&PyModule_Type), "types", "ModuleType");
    p.save(name.get());
    p.save(doc ? doc : Py_None);
    p.writer().opcode(op::TUPLE2);
    p.writer().opcode(op::REDUCE);
    p.memoize(module);
    p.session().namespaces().emplace(dict, module);

    p.save_global_as(stdlib_attr("builtins", "dict.update"), "builtins", "dict.update");
    p.save_dict(dict);  // vars(module)
    p.writer().opcode(op::EMPTY_DICT);
    p.writer().opcode(op::MARK);
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    std::vector<std::pair<Ref, Ref>> items;
    while (PyDict_Next(dict, &pos, &key, &value))
        if (!PyUnicode_Check(key) || !is_internal(key)) items.emplace_back(Ref::borrow(key), Ref::borrow(value));
    for (const auto& [k, v] : items) {
        p.save(k.get());
        with_note([&] { p.save(v.get()); }, "when serializing attribute %R of module %R", k.get(), name.get());
    }
    write_builtins_entry(p, dict);
    p.writer().opcode(op::SETITEMS);
    p.writer().opcode(op::TUPLE2);
    p.writer().opcode(op::REDUCE);
    p.writer().opcode(op::POP);
}

// importlib.import_module(<submodule>) for each submodule of module that
// the names reach, deepest first (importing it imports the packages above
// it); returns whether it wrote one.
bool write_submodule_imports(Pickler& p, PyObject* module, const std::vector<PyObject*>& names) {
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
        if (write_submodule_imports(p, value, names) || p.session().memo_find(value) != IdentityMemo::kMissing) continue;
        p.save(value);
        p.writer().opcode(op::POP);
    }
    return wrote;
}

// Submodules reached through a package's attributes (xml.etree.ElementTree
// used as `xml.etree.ElementTree.Comment` with only `xml` a global or
// closure variable): importing the package on the loading side does not
// import them, so the stream imports them before the function. A submodule
// counts when the code names each step of its path (in co_names).
void import_submodules_used(Pickler& p, const FunctionParts& parts) {
    std::vector<Ref> modules;
    collect_module_globals(parts.code.get(), parts.globals.get(), modules);
    for (Py_ssize_t i = 0; parts.closure && i < PyTuple_GET_SIZE(parts.closure.get()); ++i) {
        PyObject* value = PyCell_GET(PyTuple_GET_ITEM(parts.closure.get(), i));
        if (value != nullptr && PyModule_Check(value)) modules.push_back(Ref::borrow(value));
    }
    if (modules.empty()) return;
    std::vector<PyObject*> names = code_names(parts.code.get()).all_names;  // a copy: saving may ask for other code
    for (const Ref& module : modules) write_submodule_imports(p, module.get(), names);
}

// A function that imports a registered module in its body must find it on
// a loading side where it is not installed: put it in sys.modules first,
//   dict.setdefault(sys.modules, name, <module by value>)
// In a package, a relative import (`from .helpers import x`, `from . import
// helpers`) names a module below the package or a package above it.
void install_registered_imports(Pickler& p, PyObject* code, PyObject* package) {
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
        if (!PyModule_Check(module) || p.session().memo_find(module) != IdentityMemo::kMissing) continue;
        p.save_global_as(stdlib_attr("builtins", "dict.setdefault"), "builtins", "dict.setdefault");
        p.save_global_as(runtime().sys_modules, "sys", "modules");
        p.save(module_name);
        save_module_by_value(p, module);
        p.writer().opcode(op::TUPLE3);
        p.writer().opcode(op::REDUCE);
        p.writer().opcode(op::POP);
    }
    // Nested code objects (inner functions, comprehensions) may import too.
    PyObject* consts = reinterpret_cast<PyCodeObject*>(code)->co_consts;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); ++i)
        if (PyCode_Check(PyTuple_GET_ITEM(consts, i))) install_registered_imports(p, PyTuple_GET_ITEM(consts, i), package);
}

}  // namespace

void save_module(Pickler& p, PyObject* module) {
    Ref name = Ref::check(PyModule_GetNameObject(module));
    PyObject* loaded = nullptr;
    if (PyDict_GetItemRef(runtime().sys_modules, name.get(), &loaded) < 0) raise_error();
    Ref owned = Ref::steal(loaded);
    if (loaded != module || module_is_registered(name.get())) {
        save_module_by_value(p, module);
        return;
    }
    // importlib.import_module(name): imports submodules too, unlike __import__.
    p.save_global_as(runtime().import_module, "importlib", "import_module");
    p.save(name.get());
    p.writer().opcode(op::TUPLE1);
    p.writer().opcode(op::REDUCE);
    p.memoize(module);
}

bool needs_package_name(PyObject* code, PyObject* globals) {
    return package_of(globals) && code_names(code).imports;
}

void install_imported_modules(Pickler& p, const FunctionParts& parts) {
    import_submodules_used(p, parts);
    if (PySet_GET_SIZE(registered_by_value_modules()) != 0) {
        Ref package = package_of(parts.globals.get());
        install_registered_imports(p, parts.code.get(), package.get());
    }
}

}  // namespace webpickle::py
