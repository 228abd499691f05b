# What travelled: the function as a pickle stream, opcode by opcode.
import pickletools
import webpickle

data = webpickle.dumps(estimate_pi)
print(f"estimate_pi pickles to {len(data)} bytes (its class Estimate travels with "
      f"each result: {len(webpickle.dumps(serial[0]))} bytes for one)\n")
pickletools.dis(data)
