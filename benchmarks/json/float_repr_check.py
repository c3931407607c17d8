"""json_dumps(float) against repr(float) on random doubles (raw bit patterns, scaled
uniforms, rounded decimals plus arithmetic noise, integer ratios): prints the count
checked and the mismatches.    python benchmarks/json/float_repr_check.py SEED BATCHES
(each batch is 10,000 values)."""
import random, struct, sys
from ringbolt._native import json_dumps
rnd = random.Random(int(sys.argv[1]))
bad = 0; n = 0
for batch in range(int(sys.argv[2])):
    xs = []
    for _ in range(10000):
        r = rnd.random()
        if r < 0.4:
            x = struct.unpack('<d', struct.pack('<Q', rnd.getrandbits(64)))[0]
        elif r < 0.7:
            x = rnd.uniform(-1, 1) * 10 ** rnd.randint(-6, 17)
        elif r < 0.9:
            x = round(rnd.uniform(0, 1000), rnd.randint(0, 9)) + rnd.choice([0.1, 0.2, 0.3, 1, 7.77, 1e-3])
        else:
            x = rnd.randint(1, 10**17) / 10 ** rnd.randint(0, 20)
        if x != x or x in (float('inf'), float('-inf')):
            continue
        xs.append(x)
    out = json_dumps(xs)
    exp = ('[' + ','.join(repr(x) for x in xs) + ']').encode()
    n += len(xs)
    if out != exp:
        for x in xs:
            if json_dumps(x) != repr(x).encode():
                bad += 1
                if bad < 10: print("MISMATCH", repr(x), json_dumps(x))
print("checked", n, "bad", bad)
