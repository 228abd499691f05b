// Writes the parts of a reduction: the constructor call (REDUCE, NEWOBJ or
// NEWOBJ_EX), then list items, dict items and state, as pickle.Pickler does.
#include <vector>

#include "pickler.hpp"
#include "runtime.hpp"

namespace webpickle::py {
namespace {

// Saves one part and names it in a note if that fails.
template <typename Save>
void save_part(PyObject* obj, const char* part, Save&& save) {
    if (obj == nullptr) save();
    else with_note(save, "when serializing %T %s", obj, part);
}

// obj.__class__, which a proxy (weakref.proxy) forwards to its referent's class.
bool is_class_of(PyObject* cls, PyObject* obj) {
    Ref actual = Ref::check(PyObject_GetAttr(obj, name_of("__class__")));
    return actual.get() == cls;
}

bool has_new(PyObject* cls) {
    int found = PyObject_HasAttrWithError(cls, runtime().s_new);
    if (found < 0) raise_error();
    return found != 0;
}

// The stdlib's checks of the class that __newobj__ / __newobj_ex__ (method) gets.
void check_new_class(PyObject* cls, PyObject* obj, const char* method) {
    PyObject* error = runtime().PicklingError;
    if (!PyType_Check(cls)) raise_format(error, "first argument to %s() must be a class, not %T", method, cls);
    if (!has_new(cls)) raise_format(error, "first argument to %s() has no __new__", method);
    if (obj != nullptr && !is_class_of(cls, obj))
        raise_format(error, "first argument to %s() must be %R, not %R", method, Py_TYPE(obj), cls);
}

}  // namespace

void Pickler::save_reduce(PyObject* func, PyObject* args, PyObject* state, PyObject* listitems,
                          PyObject* dictitems, PyObject* state_setter, PyObject* obj) {
    const Runtime& rt = runtime();
    if (!PyCallable_Check(func))
        raise_format(rt.PicklingError, "first item of the tuple returned by __reduce__ must be callable, not %T",
                     func);
    if (!PyTuple_Check(args))
        raise_format(rt.PicklingError, "second item of the tuple returned by __reduce__ must be a tuple, not %T",
                     args);
    if (listitems != nullptr && !PyIter_Check(listitems))
        raise_format(rt.PicklingError, "fourth item of the tuple returned by __reduce__ must be an iterator, not %T",
                     listitems);
    if (dictitems != nullptr && !PyIter_Check(dictitems))
        raise_format(rt.PicklingError, "fifth item of the tuple returned by __reduce__ must be an iterator, not %T",
                     dictitems);
    if (state_setter != nullptr && !PyCallable_Check(state_setter))
        raise_format(rt.PicklingError, "sixth item of the tuple returned by __reduce__ must be callable, not %T",
                     state_setter);

    PyObject* name_obj = nullptr;
    if (PyObject_GetOptionalAttr(func, rt.s_name, &name_obj) < 0) raise_error();
    Ref func_name = Ref::steal(name_obj);
    auto named = [&func_name](PyObject* expected) {
        return func_name && PyUnicode_Check(func_name.get()) &&
               PyUnicode_Compare(func_name.get(), expected) == 0;
    };

    if (named(rt.newobj_ex_name)) {
        if (PyTuple_GET_SIZE(args) != 3)
            raise_format(rt.PicklingError, "__newobj_ex__ expected 3 arguments, got %zd", PyTuple_GET_SIZE(args));
        PyObject* cls = PyTuple_GET_ITEM(args, 0);
        PyObject* new_args = PyTuple_GET_ITEM(args, 1);
        PyObject* kwargs = PyTuple_GET_ITEM(args, 2);
        check_new_class(cls, obj, "__newobj_ex__");
        if (!PyTuple_Check(new_args))
            raise_format(rt.PicklingError, "second argument to __newobj_ex__() must be a tuple, not %T", new_args);
        if (!PyDict_Check(kwargs))
            raise_format(rt.PicklingError, "third argument to __newobj_ex__() must be a dict, not %T", kwargs);
        if (protocol() >= 4) {
            save_part(obj, "class", [&] { save(cls); });
            save_part(obj, "__new__ arguments", [&] {
                save(new_args);
                save(kwargs);
            });
            writer_.opcode(op::NEWOBJ_EX);
        } else {
            // functools.partial(cls.__new__, cls, *args, **kwargs)()
            Ref cls_new = Ref::check(PyObject_GetAttr(cls, rt.s_new));
            Ref seq = Ref::check(PySequence_Tuple(new_args));
            Ref head = Ref::check(PyTuple_Pack(2, cls_new.get(), cls));
            Ref call_args = Ref::check(PySequence_Concat(head.get(), seq.get()));
            Ref partial = Ref::check(PyObject_Call(rt.functools_partial, call_args.get(), kwargs));
            save_part(obj, "reconstructor", [&] { save(partial.get()); });
            writer_.opcode(op::EMPTY_TUPLE);
            writer_.opcode(op::REDUCE);
        }
    } else if (named(rt.newobj_name)) {
        if (PyTuple_GET_SIZE(args) < 1) raise(rt.PicklingError, "__newobj__ expected at least 1 argument, got 0");
        PyObject* cls = PyTuple_GET_ITEM(args, 0);
        check_new_class(cls, obj, "__newobj__");
        Ref rest = Ref::check(PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args)));
        save_part(obj, "class", [&] { save(cls); });
        save_part(obj, "__new__ arguments", [&] { save(rest.get()); });
        writer_.opcode(op::NEWOBJ);
    } else {
        save_part(obj, "reconstructor", [&] { save(func); });
        save_part(obj, "reconstructor arguments", [&] { save(args); });
        writer_.opcode(op::REDUCE);
    }

    if (obj != nullptr) memoize_built(obj);
    if (listitems != nullptr) batch_appends(listitems, obj);
    if (dictitems != nullptr) batch_setitems(dictitems, obj);
    if (state != nullptr) {
        if (state_setter == nullptr) {
            save_part(obj, "state", [&] { save(state); });
            writer_.opcode(op::BUILD);
        } else {
            // state_setter(obj, state), its result dropped.
            save_part(obj, "state setter", [&] { save(state_setter); });
            save(obj);
            save_part(obj, "state", [&] { save(state); });
            writer_.opcode(op::TUPLE2);
            writer_.opcode(op::REDUCE);
            writer_.opcode(op::POP);
        }
    }
}

void Pickler::batch_appends(PyObject* iterator, PyObject* obj) {
    std::vector<Ref> batch;
    Py_ssize_t index = 0;
    while (true) {
        batch.clear();
        while (batch.size() < kBatchSize) {
            PyObject* item = PyIter_Next(iterator);
            if (item == nullptr) break;
            batch.push_back(Ref::steal(item));
        }
        if (PyErr_Occurred()) raise_error();
        if (batch.empty()) return;
        if (batch.size() > 1) writer_.opcode(op::MARK);
        for (const Ref& item : batch) {
            with_note([&] { save(item.get()); }, "when serializing %T item %zd", obj, index);
            ++index;
        }
        writer_.opcode(batch.size() > 1 ? op::APPENDS : op::APPEND);
        if (batch.size() < kBatchSize) return;
    }
}

void Pickler::batch_setitems(PyObject* iterator, PyObject* obj) {
    std::vector<Ref> batch;
    while (true) {
        batch.clear();
        while (batch.size() < kBatchSize) {
            PyObject* item = PyIter_Next(iterator);
            if (item == nullptr) break;
            if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
                Py_DECREF(item);
                raise(PyExc_TypeError, "dict items iterator must return 2-tuples");
            }
            batch.push_back(Ref::steal(item));
        }
        if (PyErr_Occurred()) raise_error();
        if (batch.empty()) return;
        if (batch.size() > 1) writer_.opcode(op::MARK);
        for (const Ref& item : batch) {
            PyObject* key = PyTuple_GET_ITEM(item.get(), 0);
            save(key);
            with_note([&] { save(PyTuple_GET_ITEM(item.get(), 1)); }, "when serializing %T item %R", obj, key);
        }
        writer_.opcode(batch.size() > 1 ? op::SETITEMS : op::SETITEM);
        if (batch.size() < kBatchSize) return;
    }
}

}  // namespace webpickle::py
