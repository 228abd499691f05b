// Built-in containers and buffers: tuple, list, dict, set, frozenset,
// bytearray and PickleBuffer.
#include <algorithm>
#include <string>
#include <utility>

#include "canonical_order.hpp"
#include "pickler.hpp"
#include "recursion_guard.hpp"
#include "runtime.hpp"

namespace webpickle::py {

bool Pickler::save_tuple(PyObject* obj) {
    Py_ssize_t n = PyTuple_GET_SIZE(obj);
    if (n == 0) {
        writer_.opcode(op::EMPTY_TUPLE);
        return true;
    }
    if (memo_get_if_present(obj)) return false;
    RecursionGuard guard;
    bool pure = true;
    if (n > 3) writer_.opcode(op::MARK);
    for (Py_ssize_t i = 0; i < n; ++i)
        with_note([&] { pure &= save(PyTuple_GET_ITEM(obj, i)); }, "when serializing %T item %zd", obj, i);
    // A tuple reached from itself (through a mutable object) was written
    // while its items were: drop the copy on the stack and fetch that one.
    std::uint32_t index = session_.memo_find(obj);
    if (index != IdentityMemo::kMissing) {
        if (n <= 3) {
            for (Py_ssize_t i = 0; i < n; ++i) writer_.opcode(op::POP);
        } else {
            writer_.opcode(op::POP_MARK);
        }
        writer_.memo_get(index);
        return false;
    }
    static constexpr std::uint8_t small[] = {op::TUPLE1, op::TUPLE2, op::TUPLE3};
    writer_.opcode(n <= 3 ? small[n - 1] : op::TUPLE);
    if (!pure) memoize(obj);
    return pure;
}

void Pickler::save_list(PyObject* obj) {
    writer_.opcode(op::EMPTY_LIST);
    memoize(obj);
    RecursionGuard guard;
    // Read the size on every step: saving an item may run code that resizes the list.
    Py_ssize_t total = 0;
    if (PyList_GET_SIZE(obj) == 1) {
        Ref item = Ref::borrow(PyList_GET_ITEM(obj, 0));
        with_note([&] { save(item.get()); }, "when serializing %T item %zd", obj, Py_ssize_t{0});
        writer_.opcode(op::APPEND);
        return;
    }
    while (total < PyList_GET_SIZE(obj)) {
        writer_.opcode(op::MARK);
        for (std::size_t batch = 0; batch < kBatchSize && total < PyList_GET_SIZE(obj); ++batch, ++total) {
            Ref item = Ref::borrow(PyList_GET_ITEM(obj, total));
            with_note([&] { save(item.get()); }, "when serializing %T item %zd", obj, total);
        }
        writer_.opcode(op::APPENDS);
    }
}

void Pickler::save_dict(PyObject* obj) {
    if (!session_.namespaces().empty()) {
        if (PyObject* const* owner = session_.namespaces().find(obj)) {
            // A class's own namespace: vars(cls) on the loading side.
            save_global_as(stdlib_attr("builtins", "vars"), "builtins", "vars");
            writer_.memo_get(session_.memo_find(*owner));
            writer_.opcode(op::TUPLE1);
            writer_.opcode(op::REDUCE);
            return;
        }
    }
    writer_.opcode(op::EMPTY_DICT);
    memoize(obj);
    RecursionGuard guard;
    write_dict_items(obj);
}

// SETITEM for one item, else batches of MARK ... SETITEMS, ending with an
// empty batch when the items fill whole batches: the stdlib's bytes.
void Pickler::write_dict_items(PyObject* obj) {
    const Py_ssize_t size = PyDict_GET_SIZE(obj);
    if (size == 0) return;
    Py_ssize_t pos = 0, written = 0;
    PyObject *key, *value;
    Ref current_key;  // while its value is written: the failure note names it
    // One handler around the loop, not one per item: in wasm that costs
    // measurably. Written out rather than through on_failure(): the dict
    // loop is the hottest of the walk and keeps its locals in registers so.
    try {
        if (size > 1) writer_.opcode(op::MARK);
        while (PyDict_Next(obj, &pos, &key, &value)) {
            // Own the pair: saving may run code that removes it from the dict.
            Ref k = Ref::borrow(key), v = Ref::borrow(value);
            save(k.get());
            current_key = std::move(k);
            save(v.get());
            current_key = Ref();
            if (PyDict_GET_SIZE(obj) != size) raise(PyExc_RuntimeError, "dictionary changed size during iteration");
            if (++written % static_cast<Py_ssize_t>(kBatchSize) == 0) {
                writer_.opcode(op::SETITEMS);
                writer_.opcode(op::MARK);
            }
        }
    } catch (PythonError&) {
        if (current_key) note_current_error("when serializing %T item %R", obj, current_key.get());
        throw;
    }
    writer_.opcode(size > 1 ? op::SETITEMS : op::SETITEM);
}

// Notes for an element that failed: protocol 4+ names the set; older
// protocols name the list inside set([...]) as the stdlib's reduction does.
static void note_set_element(PyObject* obj, Py_ssize_t index, int protocol) {
    if (protocol >= 4) {
        note_current_error("when serializing %T element", obj);
        return;
    }
    note_current_error("when serializing list item %zd", index);
    note_current_error("when serializing tuple item 0");
    note_current_error("when serializing %T reconstructor arguments", obj);
}

bool Pickler::write_set_items(PyObject* obj) {
    std::vector<Ref> items = canonical_items(obj);
    bool pure = true;
    for (std::size_t start = 0; start < items.size(); start += kBatchSize) {
        writer_.opcode(op::MARK);
        std::size_t end = std::min(items.size(), start + kBatchSize);
        for (std::size_t i = start; i < end; ++i) {
            on_failure([&] { pure &= save(items[i].get()); },
                       [&] { note_set_element(obj, static_cast<Py_ssize_t>(i), protocol()); });
        }
        writer_.opcode(protocol() >= 4 ? op::ADDITEMS : op::APPENDS);
    }
    return pure;
}

void Pickler::save_set(PyObject* obj) {
    RecursionGuard guard;
    if (protocol() >= 4) {
        writer_.opcode(op::EMPTY_SET);
        memoize(obj);
        write_set_items(obj);
        return;
    }
    // set([...]) for protocols 2 and 3.
    save_global(reinterpret_cast<PyObject*>(&PySet_Type), nullptr);
    writer_.opcode(op::EMPTY_LIST);
    write_set_items(obj);
    writer_.opcode(op::TUPLE1);
    writer_.opcode(op::REDUCE);
    memoize_built(obj);  // an element's state may have reached the set again
}

bool Pickler::save_frozenset(PyObject* obj) {
    RecursionGuard guard;
    bool pure = true;
    if (protocol() >= 4) {
        writer_.opcode(op::MARK);
        std::vector<Ref> items = canonical_items(obj);
        for (const Ref& item : items) {
            on_failure([&] { pure &= save(item.get()); }, [&] { note_set_element(obj, 0, protocol()); });
        }
    } else {
        // frozenset([...]) for protocols 2 and 3.
        save_global(reinterpret_cast<PyObject*>(&PyFrozenSet_Type), nullptr);
        writer_.opcode(op::EMPTY_LIST);
        pure = write_set_items(obj);
    }
    std::uint32_t index = session_.memo_find(obj);
    if (index != IdentityMemo::kMissing) {  // reached from itself, see save_tuple
        if (protocol() >= 4) {
            writer_.opcode(op::POP_MARK);
        } else {
            writer_.opcode(op::POP);
            writer_.opcode(op::POP);
        }
        writer_.memo_get(index);
        return false;
    }
    if (protocol() >= 4) {
        writer_.opcode(op::FROZENSET);
    } else {
        writer_.opcode(op::TUPLE1);
        writer_.opcode(op::REDUCE);
    }
    if (!pure) memoize(obj);
    return pure;
}

void Pickler::save_bytearray(PyObject* obj) {
    if (protocol() >= 5) {
        writer_.bytearray8(PyByteArray_AS_STRING(obj), static_cast<std::size_t>(PyByteArray_GET_SIZE(obj)));
        memoize(obj);
        return;
    }
    Ref args = PyByteArray_GET_SIZE(obj) == 0
                   ? Ref::check(PyTuple_New(0))
                   : Ref::check(Py_BuildValue("(N)", PyBytes_FromStringAndSize(PyByteArray_AS_STRING(obj),
                                                                               PyByteArray_GET_SIZE(obj))));
    save_reduce(reinterpret_cast<PyObject*>(&PyByteArray_Type), args.get(), nullptr, nullptr, nullptr,
                nullptr, obj);
}

void Pickler::save_picklebuffer(PyObject* obj) {
    if (protocol() < 5) raise(runtime().PicklingError, "PickleBuffer can only be pickled with protocol >= 5");
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_FULL_RO) < 0) raise_error();
    struct Release {
        Py_buffer* v;
        ~Release() { PyBuffer_Release(v); }
    } release{&view};
    if (!PyBuffer_IsContiguous(&view, 'A'))
        raise(runtime().PicklingError, "PickleBuffer can not be pickled when pointing to a non-contiguous buffer");
    bool in_band = true;
    if (PyObject* callback = session_.buffer_callback()) {
        Ref answer = Ref::check(PyObject_CallOneArg(callback, obj));
        int truth = PyObject_IsTrue(answer.get());
        if (truth < 0) raise_error();
        in_band = truth != 0;
    }
    auto size = static_cast<std::size_t>(view.len);
    if (in_band) {
        if (view.readonly) {
            writer_.bytes(view.buf, size);
        } else {
            writer_.bytearray8(view.buf, size);
        }
        memoize(obj);
    } else {
        writer_.opcode(op::NEXT_BUFFER);
        if (view.readonly) writer_.opcode(op::READONLY_BUFFER);
    }
}

}  // namespace webpickle::py
