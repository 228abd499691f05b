// Finds which entries of a code object's co_names its bytecode uses as global
// names, so a function pickled by value carries only the globals it needs.
// Opcode numbers differ between Python versions, so the caller supplies them
// (the CPython layer reads them from the running interpreter's `dis`).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace webpickle {

// An instruction whose argument, shifted right by `shift`, indexes co_names
// and names a global (LOAD_GLOBAL, STORE_GLOBAL, LOAD_NAME, ...).
struct NameOpcode {
    int opcode;
    int shift;
};

struct GlobalOpcodes {
    std::vector<NameOpcode> name_ops;
    int extended_arg = -1;
};

// Returns the co_names indices that the instructions in `code` (co_code's
// bytes: two-byte code units, inline caches included) use as globals, in
// first-use order and without repeats.
std::vector<std::uint32_t> scan_global_names(const std::uint8_t* code, std::size_t size,
                                             const GlobalOpcodes& ops);

}  // namespace webpickle
