// Atoms: int, str, bytes and complex. They are never memoized by identity
// (str and bytes are memoized by content), so equal values give equal bytes.
#include <vector>

#include "pickler.hpp"
#include "runtime.hpp"

namespace webpickle::py {

void Pickler::save_long(PyObject* obj) {
    // Most ints fit one digit: read them inline, without a call into CPython.
    if (PyUnstable_Long_IsCompact(reinterpret_cast<PyLongObject*>(obj))) {
        writer_.integer(PyUnstable_Long_CompactValue(reinterpret_cast<PyLongObject*>(obj)));
        return;
    }
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow == 0) {
        if (value == -1 && PyErr_Occurred()) raise_error();
        writer_.integer(value);
        return;
    }
    // Larger than 64 bits: the minimal little-endian two's complement.
    const int flags = Py_ASNATIVEBYTES_LITTLE_ENDIAN;
    Py_ssize_t needed = PyLong_AsNativeBytes(obj, nullptr, 0, flags);
    if (needed < 0) raise_error();
    std::vector<std::uint8_t> le(static_cast<std::size_t>(needed) + 1);
    if (PyLong_AsNativeBytes(obj, le.data(), static_cast<Py_ssize_t>(le.size()), flags) < 0) raise_error();
    std::size_t n = le.size();
    while (n > 1) {
        std::uint8_t top = le[n - 1], next = le[n - 2];
        if (!((top == 0x00 && !(next & 0x80)) || (top == 0xff && (next & 0x80)))) break;
        --n;
    }
    writer_.long_bytes(le.data(), n);
}

void Pickler::write_str_body(PyObject* obj) {
    if (PyUnicode_IS_ASCII(obj)) {
        writer_.unicode(static_cast<const char*>(PyUnicode_DATA(obj)),
                        static_cast<std::size_t>(PyUnicode_GET_LENGTH(obj)));
        return;
    }
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(obj, &size);
    if (utf8 != nullptr) {
        writer_.unicode(utf8, static_cast<std::size_t>(size));
        return;
    }
    // Lone surrogates are legal in str and travel as the stdlib sends them.
    PyErr_Clear();
    Ref encoded = Ref::check(PyUnicode_AsEncodedString(obj, "utf-8", "surrogatepass"));
    writer_.unicode(PyBytes_AS_STRING(encoded.get()), static_cast<std::size_t>(PyBytes_GET_SIZE(encoded.get())));
}

void Pickler::save_str(PyObject* obj) {
    if (unmemoized_) {
        write_str_body(obj);
        return;
    }
    ContentMemo& contents = session_.contents();
    const ContentMemo::Key key = ContentMemo::key_of(obj);
    std::uint32_t index = contents.find(obj, key);
    if (index != ContentMemo::kMissing) {
        writer_.memo_get(index);
        return;
    }
    write_str_body(obj);
    // Found by content from now on: the identity memo need not know it.
    index = session_.memo_keep(obj);
    contents.add(obj, index, key);
    writer_.memo_put(index);
}

void Pickler::save_bytes(PyObject* obj) {
    const ContentMemo::Key key = ContentMemo::key_of(obj);
    std::uint32_t index = session_.contents().find(obj, key);
    if (index != ContentMemo::kMissing) {
        writer_.memo_get(index);
        return;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(obj);
    if (protocol() >= 3) {
        writer_.bytes(PyBytes_AS_STRING(obj), static_cast<std::size_t>(size));
    } else if (size == 0) {
        // Protocol 2 has no bytes opcode: rebuild with bytes() ...
        Ref args = Ref::check(PyTuple_New(0));
        save_reduce(reinterpret_cast<PyObject*>(&PyBytes_Type), args.get(), nullptr, nullptr, nullptr,
                    nullptr, nullptr);
    } else {
        // ... or with _codecs.encode(text, 'latin1'), as the stdlib does.
        Ref text = Ref::check(PyUnicode_DecodeLatin1(PyBytes_AS_STRING(obj), size, nullptr));
        Ref encode = Ref::borrow(stdlib_attr("_codecs", "encode"));
        Ref args = Ref::check(Py_BuildValue("(Os)", text.get(), "latin1"));
        save_reduce(encode.get(), args.get(), nullptr, nullptr, nullptr, nullptr, nullptr);
    }
    index = session_.memo_keep(obj);
    session_.contents().add(obj, index, key);
    writer_.memo_put(index);
}

void Pickler::save_complex(PyObject* obj) {
    Py_complex value = PyComplex_AsCComplex(obj);
    save_global(reinterpret_cast<PyObject*>(&PyComplex_Type), nullptr);
    writer_.float64(value.real);
    writer_.float64(value.imag);
    writer_.opcode(op::TUPLE2);
    writer_.opcode(op::REDUCE);
}

}  // namespace webpickle::py
