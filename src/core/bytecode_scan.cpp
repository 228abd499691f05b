#include "bytecode_scan.hpp"

#include <algorithm>

namespace webpickle {

std::vector<std::uint32_t> scan_global_names(const std::uint8_t* code, std::size_t size,
                                             const GlobalOpcodes& ops) {
    // A 256-entry table turns the per-instruction lookup into one load.
    int shift_of[256];
    std::fill(std::begin(shift_of), std::end(shift_of), -1);
    for (const NameOpcode& op : ops.name_ops)
        if (op.opcode >= 0 && op.opcode < 256) shift_of[op.opcode] = op.shift;

    std::vector<std::uint32_t> found;
    std::uint32_t extended = 0;
    for (std::size_t i = 0; i + 1 < size; i += 2) {
        int opcode = code[i];
        std::uint32_t arg = extended | code[i + 1];
        if (opcode == ops.extended_arg) {
            extended = arg << 8;
            continue;
        }
        extended = 0;
        if (shift_of[opcode] < 0) continue;
        std::uint32_t index = arg >> shift_of[opcode];
        if (std::find(found.begin(), found.end(), index) == found.end()) found.push_back(index);
    }
    return found;
}

}  // namespace webpickle
