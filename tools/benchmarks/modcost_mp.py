import gc, sys
gc.collect(); b0 = gc.mem_alloc()
import asyncio
gc.collect(); b1 = gc.mem_alloc(); print("asyncio", b1-b0); prev=b1
for m in sys.argv[1:]:
    __import__(m)
    gc.collect(); b = gc.mem_alloc(); print(m, b-prev); prev=b
print("total", prev-b0)
