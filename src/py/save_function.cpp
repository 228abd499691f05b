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

}  // namespace

bool Pickler::save_function(PyObject* func) {
    if (!pickle_by_value(func)) {
        save_global(func, nullptr);
        return false;
    }
    FunctionParts parts = FunctionParts::of(func);
    if (save_stdlib_closure(*this, parts)) return false;
    install_imported_modules(*this, parts);
    save_global_as(reinterpret_cast<PyObject*>(&PyFunction_Type), "types", "FunctionType");
    writer_.opcode(op::MARK);
    with_note([&] { save_code(parts.code.get()); }, "when serializing code of function %R", parts.qualname.get());
    std::uint32_t globals_index = push_globals_copy(parts.globals.get());
    save(parts.name.get());
    writer_.none();
    std::vector<PyObject*> new_cells;
    if (parts.closure) {
        writer_.opcode(op::MARK);
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(parts.closure.get()); ++i) {
            PyObject* cell = PyTuple_GET_ITEM(parts.closure.get(), i);
            if (memo_get_if_present(cell)) continue;
            if (write_filled_cell(cell)) continue;
            write_empty_cell(cell);
            new_cells.push_back(cell);
        }
        writer_.opcode(op::TUPLE);
    } else {
        writer_.none();
    }
    writer_.opcode(op::TUPLE);
    writer_.opcode(op::REDUCE);
    memoize(func);

    write_function_state(parts);
    write_function_globals(parts, globals_index);
    for (std::size_t i = 0; i < new_cells.size(); ++i) {
        writer_.memo_get(session_.memo_find(new_cells[i]));
        write_cell_contents(new_cells[i], &parts);
        writer_.opcode(op::POP);
    }
    return false;
}

void Pickler::write_function_state(const FunctionParts& parts) {
    Ref slots = parts.changed_attributes();
    bool has_dict = parts.dict && PyDict_GET_SIZE(parts.dict.get()) > 0;
    if (PyDict_GET_SIZE(slots.get()) == 0 && !has_dict) return;
    with_note(
        [&] {
            if (has_dict) save(parts.dict.get());
            else writer_.none();
            save(slots.get());
        },
        "when serializing attributes of function %R", parts.qualname.get());
    writer_.opcode(op::TUPLE2);
    writer_.opcode(op::BUILD);
}

void Pickler::write_function_globals(const FunctionParts& parts, std::uint32_t globals_index) {
    GlobalsCopy& copy = session_.globals_copies().at(parts.globals.get());
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
    writer_.memo_get(globals_index);
    if (items.size() > 1) writer_.opcode(op::MARK);
    for (const auto& [name, value] : items) {
        save(name);
        with_note([&] { save(value.get()); }, "when serializing global %R of function %R", name,
                  parts.qualname.get());
    }
    writer_.opcode(items.size() > 1 ? op::SETITEMS : op::SETITEM);
    writer_.opcode(op::POP);
}

std::uint32_t Pickler::push_globals_copy(PyObject* globals) {
    auto& copies = session_.globals_copies();
    auto found = copies.find(globals);
    if (found != copies.end()) {
        writer_.memo_get(found->second.memo_index);
        return found->second.memo_index;
    }
    if (session_.namespaces().find(globals) != nullptr) {
        // The globals of a module written by value are that module's dict.
        save_dict(globals);  // writes vars(module)
        Ref placeholder = Ref::check(PyDict_New());
        std::uint32_t index = session_.memo_add(placeholder.get());
        writer_.memo_put(index);
        Py_INCREF(globals);
        session_.keep_alive(globals);
        copies.emplace(globals, GlobalsCopy{index, {}});
        return index;
    }
    // A fresh dict on the loading side, shared by every function of this
    // module in the stream, filled with just the globals they use. Its memo
    // slot is keyed by a private placeholder, not by the module's own dict.
    Ref placeholder = Ref::check(PyDict_New());
    writer_.opcode(op::EMPTY_DICT);
    std::uint32_t index = session_.memo_add(placeholder.get());
    writer_.memo_put(index);
    Py_INCREF(globals);  // the key stays valid while the session remembers it
    session_.keep_alive(globals);
    GlobalsCopy& copy = copies.emplace(globals, GlobalsCopy{index, {}}).first->second;
    // __name__ goes in now: FunctionType() takes __module__ from it.
    PyObject* module_name = nullptr;
    if (PyDict_GetItemRef(globals, runtime().s_name, &module_name) < 0) raise_error();
    if (module_name != nullptr) {
        Ref owned = Ref::steal(module_name);
        if (PyUnicode_CheckExact(module_name)) {
            save(runtime().s_name);
            save(module_name);
            writer_.opcode(op::SETITEM);
            copy.names.insert(runtime().s_name);
        }
    }
    return index;
}

void Pickler::write_empty_cell(PyObject* cell) {
    save_global_as(reinterpret_cast<PyObject*>(runtime().cell_type), "types", "CellType");
    writer_.opcode(op::EMPTY_TUPLE);
    writer_.opcode(op::REDUCE);
    memoize(cell);
}

// CellType(value) when the cell holds a value that holds no references (see
// holds_no_references); false, with nothing written, otherwise.
bool Pickler::write_filled_cell(PyObject* cell) {
    PyObject* value = PyCell_GET(cell);
    if (value == nullptr || !holds_no_references(value)) return false;
    Ref owned = Ref::borrow(value);
    save_global_as(reinterpret_cast<PyObject*>(runtime().cell_type), "types", "CellType");
    save(owned.get());
    writer_.opcode(op::TUPLE1);
    writer_.opcode(op::REDUCE);
    memoize(cell);
    return true;
}

// With the cell on the stack: BUILD (None, {'cell_contents': value}).
void Pickler::write_cell_contents(PyObject* cell, const FunctionParts* parts) {
    PyObject* value = PyCell_GET(cell);
    if (value == nullptr) return;  // an empty cell stays empty
    Ref owned = Ref::borrow(value);
    writer_.none();
    writer_.opcode(op::EMPTY_DICT);
    save_interned_name("cell_contents");
    on_failure([&] { save(owned.get()); },
               [&] {
                   if (parts == nullptr) return;
                   PyObject* name = parts->free_variable_name(cell);
                   note_current_error("when serializing closure variable %R of function %R", name,
                                      parts->qualname.get());
               });
    writer_.opcode(op::SETITEM);
    writer_.opcode(op::TUPLE2);
    writer_.opcode(op::BUILD);
}

void Pickler::save_cell(PyObject* cell) {
    if (write_filled_cell(cell)) return;
    write_empty_cell(cell);
    write_cell_contents(cell, nullptr);
}

void Pickler::save_interned_name(const char* text) {
    Ref name = Ref::check(PyUnicode_InternFromString(text));
    save(name.get());
}

}  // namespace webpickle::py
