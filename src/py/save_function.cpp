// Functions by value: what the stdlib cannot import by name (lambdas,
// closures, functions of __main__) is rebuilt on the loading side with
// stdlib calls only (types.FunctionType, types.CodeType, types.CellType), so
// a plain pickle.loads can load it without webpickle installed.
//
// A function is written as
//   FunctionType(code, globals, name, None, closure)   memoized at once, then
//   BUILD of its other attributes, then its globals and closure contents,
// so that a function reached again from its own globals or closure (a
// recursive function) is fetched from the memo instead of written twice.
#include <utility>
#include <vector>

#include "by_value_policy.hpp"
#include "function_parts.hpp"
#include "pickler.hpp"
#include "writers.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

bool is_scalar(PyObject* obj) {
    return obj == Py_None || PyBool_Check(obj) || PyLong_CheckExact(obj) || PyFloat_CheckExact(obj) ||
           PyComplex_CheckExact(obj) || PyUnicode_CheckExact(obj) || PyBytes_CheckExact(obj);
}

// A value that cannot lead back to the function (or to anything else whose
// memo entry the cell's contents might need): scalars, and the built-in
// containers of scalars. Such a cell is written with its contents at once,
// CellType(value), instead of empty and filled by a BUILD after the function
// exists (which recursive functions need): fewer bytes per cell, and one
// BUILD less for the loader.
bool holds_no_references(PyObject* value) {
    if (is_scalar(value)) return true;
    if (PyTuple_CheckExact(value) || PyList_CheckExact(value)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(value);
        PyObject** items = PySequence_Fast_ITEMS(value);
        for (Py_ssize_t i = 0; i < n; ++i)
            if (!is_scalar(items[i])) return false;
        return true;
    }
    if (PyDict_CheckExact(value)) {
        Py_ssize_t pos = 0;
        PyObject *key, *item;
        while (PyDict_Next(value, &pos, &key, &item))
            if (!is_scalar(key) || !is_scalar(item)) return false;
        return true;
    }
    return false;
}

void write_function_state(Pickler& p, const FunctionParts& parts) {
    Ref slots = parts.changed_attributes();
    bool has_dict = parts.dict && PyDict_GET_SIZE(parts.dict.get()) > 0;
    if (PyDict_GET_SIZE(slots.get()) == 0 && !has_dict) return;
    with_note(
        [&] {
            if (has_dict) p.save(parts.dict.get());
            else p.writer().none();
            p.save(slots.get());
        },
        "when serializing attributes of function %R", parts.qualname.get());
    p.writer().opcode(op::TUPLE2);
    p.writer().opcode(op::BUILD);
}

void write_function_globals(Pickler& p, const FunctionParts& parts, std::uint32_t globals_index) {
    GlobalsCopy& copy = p.session().globals_copies().at(parts.globals.get());
    std::vector<std::pair<PyObject*, Ref>> items;
    for (PyObject* name : parts.global_names_to_write(copy)) {
        PyObject* value = nullptr;
        if (PyDict_GetItemRef(parts.globals.get(), name, &value) < 0) raise_error();
        if (value == nullptr) continue;  // read but not defined: a builtin, or defined later
        items.emplace_back(name, Ref::steal(value));
        // Claimed before any value is written, so that another function of
        // this module met while writing them does not write them again.
        copy.names.insert(name);
    }
    if (items.empty()) return;
    p.writer().memo_get(globals_index);
    if (items.size() > 1) p.writer().opcode(op::MARK);
    for (const auto& [name, value] : items) {
        p.save(name);
        with_note([&] { p.save(value.get()); }, "when serializing global %R of function %R", name,
                  parts.qualname.get());
    }
    p.writer().opcode(items.size() > 1 ? op::SETITEMS : op::SETITEM);
    p.writer().opcode(op::POP);
}

std::uint32_t push_globals_copy(Pickler& p, PyObject* globals) {
    auto& copies = p.session().globals_copies();
    auto found = copies.find(globals);
    if (found != copies.end()) {
        p.writer().memo_get(found->second.memo_index);
        return found->second.memo_index;
    }
    if (p.session().namespaces().find(globals) != nullptr) {
        // The globals of a module written by value are that module's dict.
        p.save_dict(globals);  // writes vars(module)
        Ref placeholder = Ref::check(PyDict_New());
        std::uint32_t index = p.session().memo_add(placeholder.get());
        p.writer().memo_put(index);
        Py_INCREF(globals);
        p.session().keep_alive(globals);
        copies.emplace(globals, GlobalsCopy{index, {}});
        return index;
    }
    // A fresh dict on the loading side, shared by every function of this
    // module in the stream, filled with just the globals they use. Its memo
    // slot is keyed by a private placeholder, not by the module's own dict.
    Ref placeholder = Ref::check(PyDict_New());
    p.writer().opcode(op::EMPTY_DICT);
    std::uint32_t index = p.session().memo_add(placeholder.get());
    p.writer().memo_put(index);
    Py_INCREF(globals);  // the key stays valid while the session remembers it
    p.session().keep_alive(globals);
    GlobalsCopy& copy = copies.emplace(globals, GlobalsCopy{index, {}}).first->second;
    // __name__ goes in now: FunctionType() takes __module__ from it.
    PyObject* module_name = nullptr;
    if (PyDict_GetItemRef(globals, runtime().s_name, &module_name) < 0) raise_error();
    if (module_name != nullptr) {
        Ref owned = Ref::steal(module_name);
        if (PyUnicode_CheckExact(module_name)) {
            p.save(runtime().s_name);
            p.save(module_name);
            p.writer().opcode(op::SETITEM);
            copy.names.insert(runtime().s_name);
        }
    }
    return index;
}

void write_empty_cell(Pickler& p, PyObject* cell) {
    p.save_global_as(reinterpret_cast<PyObject*>(runtime().cell_type), "types", "CellType");
    p.writer().opcode(op::EMPTY_TUPLE);
    p.writer().opcode(op::REDUCE);
    p.memoize(cell);
}

// CellType(value) when the cell holds a value that holds no references (see
// holds_no_references); false, with nothing written, otherwise.
bool write_filled_cell(Pickler& p, PyObject* cell) {
    PyObject* value = PyCell_GET(cell);
    if (value == nullptr || !holds_no_references(value)) return false;
    Ref owned = Ref::borrow(value);
    p.save_global_as(reinterpret_cast<PyObject*>(runtime().cell_type), "types", "CellType");
    p.save(owned.get());
    p.writer().opcode(op::TUPLE1);
    p.writer().opcode(op::REDUCE);
    p.memoize(cell);
    return true;
}

// With the cell on the stack: BUILD (None, {'cell_contents': value}).
void write_cell_contents(Pickler& p, PyObject* cell, const FunctionParts* parts) {
    PyObject* value = PyCell_GET(cell);
    if (value == nullptr) return;  // an empty cell stays empty
    Ref owned = Ref::borrow(value);
    p.writer().none();
    p.writer().opcode(op::EMPTY_DICT);
    p.save_interned_name("cell_contents");
    on_failure([&] { p.save(owned.get()); },
               [&] {
                   if (parts == nullptr) return;
                   PyObject* name = parts->free_variable_name(cell);
                   note_current_error("when serializing closure variable %R of function %R", name,
                                      parts->qualname.get());
               });
    p.writer().opcode(op::SETITEM);
    p.writer().opcode(op::TUPLE2);
    p.writer().opcode(op::BUILD);
}

}  // namespace

bool save_function(Pickler& p, PyObject* func) {
    if (!pickle_by_value(func)) {
        p.save_global(func, nullptr);
        return false;
    }
    FunctionParts parts = FunctionParts::of(func);
    if (save_stdlib_closure(p, parts)) return false;
    install_imported_modules(p, parts);
    p.save_global_as(reinterpret_cast<PyObject*>(&PyFunction_Type), "types", "FunctionType");
    p.writer().opcode(op::MARK);
    with_note([&] { save_code(p, parts.code.get()); }, "when serializing code of function %R", parts.qualname.get());
    std::uint32_t globals_index = push_globals_copy(p, parts.globals.get());
    p.save(parts.name.get());
    p.writer().none();
    std::vector<PyObject*> new_cells;
    if (parts.closure) {
        p.writer().opcode(op::MARK);
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(parts.closure.get()); ++i) {
            PyObject* cell = PyTuple_GET_ITEM(parts.closure.get(), i);
            if (p.memo_get_if_present(cell)) continue;
            if (write_filled_cell(p, cell)) continue;
            write_empty_cell(p, cell);
            new_cells.push_back(cell);
        }
        p.writer().opcode(op::TUPLE);
    } else {
        p.writer().none();
    }
    p.writer().opcode(op::TUPLE);
    p.writer().opcode(op::REDUCE);
    p.memoize(func);

    write_function_state(p, parts);
    write_function_globals(p, parts, globals_index);
    for (std::size_t i = 0; i < new_cells.size(); ++i) {
        p.writer().memo_get(p.session().memo_find(new_cells[i]));
        write_cell_contents(p, new_cells[i], &parts);
        p.writer().opcode(op::POP);
    }
    return false;
}

void save_cell(Pickler& p, PyObject* cell) {
    if (write_filled_cell(p, cell)) return;
    write_empty_cell(p, cell);
    write_cell_contents(p, cell, nullptr);
}

}  // namespace webpickle::py
