# What travelled: the function as a pickle stream, opcode by opcode.
import pickletools
import webpickle

data = webpickle.dumps(estimate_pi)
print(f"estimate_pi: {len(data)} bytes (its code, its defaults, and the class Estimate it uses)")
print(f"one result:  {len(webpickle.dumps(serial[0]))} bytes (an Estimate carries its class by value)\n")
pickletools.dis(data)
