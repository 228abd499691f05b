# Wall-clock times of the three runs, and a check that they agree.
nb.chart(times)

assert serial == parallel == remote, "the three runs disagree"
assert all(type(e) is Estimate for e in parallel + remote)  # one class, wherever it ran
print("all three runs computed the same", len(serial), "estimates")
