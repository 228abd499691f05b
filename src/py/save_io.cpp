// Files and buffers, as cloudpickle writes them. sys.stdout and sys.stderr
// travel by reference (the loading side writes to its own); other text
// files open for reading travel by content, as an io.StringIO at the same
// position and with the same name; standard input, closed files, terminals
// and write-only files are refused. A memoryview travels as the bytes of its
// contents. Writers of the special-types table (special_types.cpp).
#include "pickler.hpp"
#include "runtime.hpp"
#include "special_writers.hpp"

namespace webpickle::py {
namespace {

Ref attr(PyObject* obj, const char* name) { return Ref::check(PyObject_GetAttr(obj, name_of(name))); }

bool has_attr(PyObject* obj, const char* name) {
    int found = PyObject_HasAttrWithError(obj, name_of(name));
    if (found < 0) raise_error();
    return found != 0;
}

// sys.<name> (borrowed; null when sys has no such attribute).
PyObject* sys_stream(const char* name) { return PySys_GetObject(name); }

bool contains_char(PyObject* text, Py_UCS4 c) {
    return PyUnicode_Check(text) && PyUnicode_FindChar(text, c, 0, PY_SSIZE_T_MAX, 1) >= 0;
}

// getattr(sys, name), for a standard stream the loading side has too.
void write_sys_attribute(Pickler& p, PyObject* stream, const char* name) {
    Ref sys = Ref::check(PyImport_ImportModule("sys"));
    Ref args = Ref::check(Py_BuildValue("(Os)", sys.get(), name));
    p.save_reduce(runtime().builtin_getattr, args.get(), nullptr, nullptr, nullptr, nullptr, stream);
}

// The whole content of a readable file, leaving its position where it was.
Ref read_whole(PyObject* file, PyObject* name, Ref& position) {
    try {
        position = Ref::check(PyObject_CallMethod(file, "tell", nullptr));
        Ref rewound = Ref::check(PyObject_CallMethod(file, "seek", "i", 0));
        Ref content = Ref::check(PyObject_CallMethod(file, "read", nullptr));
        Ref restored = Ref::check(PyObject_CallMethod(file, "seek", "O", position.get()));
        return content;
    } catch (PythonError&) {
        if (!PyErr_ExceptionMatches(PyExc_OSError)) throw;
        PyObject* cause = PyErr_GetRaisedException();
        PyErr_Format(runtime().PicklingError, "Cannot pickle file %S as it cannot be read", name);
        PyObject* error = PyErr_GetRaisedException();
        PyException_SetCause(error, cause);  // steals cause
        PyErr_SetRaisedException(error);
        raise_error();
    }
}

}  // namespace

bool write_text_file(Pickler& p, PyObject* file) {
    if (!has_attr(file, "name") || !has_attr(file, "mode"))
        raise(runtime().PicklingError, "Cannot pickle files that do not map to an actual file");
    if (file == sys_stream("stdout")) {
        write_sys_attribute(p, file, "stdout");
        return true;
    }
    if (file == sys_stream("stderr")) {
        write_sys_attribute(p, file, "stderr");
        return true;
    }
    if (file == sys_stream("stdin")) raise(runtime().PicklingError, "Cannot pickle standard input");
    if (attr(file, "closed").get() == Py_True) raise(runtime().PicklingError, "Cannot pickle closed files");
    if (has_attr(file, "isatty")) {
        Ref tty = Ref::check(PyObject_CallMethod(file, "isatty", nullptr));
        if (PyObject_IsTrue(tty.get()) == 1)
            raise(runtime().PicklingError, "Cannot pickle files that map to tty objects");
    }
    Ref mode = attr(file, "mode");
    if (!contains_char(mode.get(), 'r') && !contains_char(mode.get(), '+'))
        raise_format(runtime().PicklingError, "Cannot pickle files that are not opened for reading: %S", mode.get());
    Ref name = attr(file, "name");
    Ref position;
    Ref content = read_whole(file, name.get(), position);
    Ref copy = Ref::check(PyObject_CallOneArg(stdlib_attr("io", "StringIO"), content.get()));
    Ref offset = Ref::check(PyObject_CallMethod(copy.get(), "seek", "O", position.get()));
    if (PyObject_SetAttrString(copy.get(), "name", name.get()) < 0) raise_error();
    p.save(copy.get());
    return true;
}

// The bytes of its contents (C order for a non-contiguous view), memoized as
// the view so that a view met twice loads as one bytes object.
bool write_memoryview(Pickler& p, PyObject* view) {
    Ref contents = Ref::check(PyObject_CallMethod(view, "tobytes", nullptr));
    p.save(contents.get());
    p.memoize(view);
    return true;
}

}  // namespace webpickle::py
