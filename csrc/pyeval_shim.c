/*
 * PyEval_CallObject for CPython 3.13 and later.
 *
 * durable-rules 2.0.28's C binding (durable_rules_engine) calls PyEval_CallObject, which CPython
 * removed from its C API in 3.13; the binding then fails at import with "undefined symbol:
 * PyEval_CallObject". This shared object defines the function as it was defined before (a call with
 * positional arguments and no keywords). policykit builds it when it is installed on 3.13 or later
 * and its engine adapter loads it with RTLD_GLOBAL before importing the binding, so the dynamic
 * linker resolves the binding's reference to it. The interpreter's own PyObject_Call is resolved
 * when this object is loaded into the running interpreter, so no Python headers or libpython are
 * needed to build it.
 */
typedef struct _object PyObject;

extern PyObject *PyObject_Call(PyObject *callable, PyObject *args, PyObject *kwargs);

PyObject *PyEval_CallObject(PyObject *callable, PyObject *args)
{
    return PyObject_Call(callable, args, (PyObject *)0);
}
