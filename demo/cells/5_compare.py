# Wall-clock times of the three runs, and a check that they agree.
nb.chart(times)

hits = [[e.hits for e in run] for run in (serial, parallel, remote)]
assert hits[0] == hits[1] == hits[2], "the three runs disagree"
print("all three runs computed the same", len(serial), "estimates")
